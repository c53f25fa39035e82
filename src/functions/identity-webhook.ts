import type { Handler } from '@netlify/functions';
import { prebuiltIdentityConfig } from '../site-config/compiled.js';
import { identityWebhookHandler } from '../sync/handlers.js';
import { syncRuntime } from '../sync/runtime.js';
import { configOf, type CompiledSite } from './prebuilt.js';

/** Identity's outgoing webhook (Identity → Notifications), signed with IDENTITY_WEBHOOK_SECRET. */
export function handlerFor(compiled: CompiledSite): Handler {
  return identityWebhookHandler(syncRuntime(process.env, () => prebuiltIdentityConfig(configOf(compiled), compiled)));
}
