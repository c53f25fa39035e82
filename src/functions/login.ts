import type { Handler } from '@netlify/functions';
import { loginHandler } from '../auth/handlers.js';
import { functionRuntime } from '../auth/runtime.js';
import { configOf, type CompiledSite } from './prebuilt.js';

/** The `login` function of a site, from its compiled table (`rolegate/functions/login`; see src/functions/generate.ts). */
export function handlerFor(compiled: CompiledSite): Handler {
  return loginHandler(functionRuntime(process.env, configOf(compiled), compiled));
}
