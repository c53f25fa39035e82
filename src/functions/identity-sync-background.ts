import type { Handler } from '@netlify/functions';
import { prebuiltIdentityConfig } from '../site-config/compiled.js';
import { identityRetryHandler } from '../sync/handlers.js';
import { syncRuntime } from '../sync/runtime.js';
import { configOf, type CompiledSite } from './prebuilt.js';

/** A background function (the -background suffix): retries the deliveries the event functions queued. */
export function handlerFor(compiled: CompiledSite): Handler {
  return identityRetryHandler(syncRuntime(process.env, () => prebuiltIdentityConfig(configOf(compiled), compiled)));
}
