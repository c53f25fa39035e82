import siteConfig from '../../rolegate.config.json' with { type: 'json' };
import { identityWebhookHandler } from '../../src/sync/handlers.js';
import { syncRuntime } from '../../src/sync/runtime.js';

// Identity → Settings → Notifications → Outgoing webhook: point it here, with IDENTITY_WEBHOOK_SECRET as its secret.
export const handler = identityWebhookHandler(syncRuntime(process.env, siteConfig));
