import siteConfig from '../../rolegate.config.json' with { type: 'json' };
import prebuiltGates from '../gate-table.json' with { type: 'json' };
import { prebuiltIdentityConfig } from '../../src/auth/prebuilt-gates.js';
import { identityRetryHandler } from '../../src/sync/handlers.js';
import { syncRuntime } from '../../src/sync/runtime.js';

// A background function (the -background suffix): retries deliveries the event functions queued.
export const handler = identityRetryHandler(syncRuntime(process.env, () => prebuiltIdentityConfig(siteConfig, prebuiltGates)));
