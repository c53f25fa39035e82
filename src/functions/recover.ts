import type { Handler } from '@netlify/functions';
import { recoverHandler } from '../auth/account-handlers.js';
import { functionRuntime } from '../auth/runtime.js';
import { configOf, type CompiledSite } from './prebuilt.js';

/** The `recover` function of a site: "forgot your password?" (`rolegate/functions/recover`). */
export function handlerFor(compiled: CompiledSite): Handler {
  return recoverHandler(functionRuntime(process.env, configOf(compiled), compiled));
}
