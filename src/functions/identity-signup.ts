import type { Handler } from '@netlify/functions';
import { prebuiltIdentityConfig } from '../site-config/compiled.js';
import { identityEventHandler } from '../sync/handlers.js';
import { syncRuntime } from '../sync/runtime.js';
import { configOf, type CompiledSite } from './prebuilt.js';

/** Netlify calls `identity-signup` on every Identity "signup" event (the function's name is the trigger). */
export function handlerFor(compiled: CompiledSite): Handler {
  return identityEventHandler('signup', syncRuntime(process.env, () => prebuiltIdentityConfig(configOf(compiled), compiled)));
}
