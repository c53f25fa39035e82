import siteConfig from '../../rolegate.config.json' with { type: 'json' };
import prebuiltGates from '../gate-table.json' with { type: 'json' };
import { prebuiltIdentityConfig } from '../../src/auth/prebuilt-gates.js';
import { identityEventHandler } from '../../src/sync/handlers.js';
import { syncRuntime } from '../../src/sync/runtime.js';

// Netlify calls this function on every Identity "validate" event (the file name is the trigger).
export const handler = identityEventHandler('validate', syncRuntime(process.env, () => prebuiltIdentityConfig(siteConfig, prebuiltGates)));
