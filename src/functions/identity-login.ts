import type { Handler } from '@netlify/functions';
import { prebuiltIdentityConfig } from '../site-config/compiled.js';
import { identityEventHandler } from '../sync/handlers.js';
import { syncRuntime } from '../sync/runtime.js';
import { configOf, type CompiledSite } from './prebuilt.js';

/** Netlify calls `identity-login` on every Identity "login" event (the function's name is the trigger). */
export function handlerFor(compiled: CompiledSite): Handler {
  return identityEventHandler('login', syncRuntime(process.env, () => prebuiltIdentityConfig(configOf(compiled), compiled)));
}
