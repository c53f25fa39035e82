import type { Handler } from '@netlify/functions';
import { refreshHandler } from '../auth/handlers.js';
import { functionRuntime } from '../auth/runtime.js';
import { configOf, type CompiledSite } from './prebuilt.js';

/** The `refresh` function of a site, from its compiled table (`rolegate/functions/refresh`; see src/functions/generate.ts). */
export function handlerFor(compiled: CompiledSite): Handler {
  return refreshHandler(functionRuntime(process.env, configOf(compiled), compiled));
}
