import siteConfig from '../../rolegate.config.json' with { type: 'json' };
import prebuiltGates from '../gate-table.json' with { type: 'json' };
import { prebuiltIdentityConfig } from '../../src/auth/prebuilt-gates.js';
import { identityWebhookHandler } from '../../src/sync/handlers.js';
import { syncRuntime } from '../../src/sync/runtime.js';

// Identity → Settings → Notifications → Outgoing webhook: point it here, with IDENTITY_WEBHOOK_SECRET as its secret.
export const handler = identityWebhookHandler(syncRuntime(process.env, () => prebuiltIdentityConfig(siteConfig, prebuiltGates)));
