import type { Handler } from '@netlify/functions';
import { logoutHandler } from '../auth/handlers.js';
import { functionRuntime } from '../auth/runtime.js';
import { configOf, type CompiledSite } from './prebuilt.js';

/** The `logout` function of a site, from its compiled table (`rolegate/functions/logout`; see src/functions/generate.ts). */
export function handlerFor(compiled: CompiledSite): Handler {
  return logoutHandler(functionRuntime(process.env, configOf(compiled), compiled));
}
