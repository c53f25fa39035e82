import type { Handler } from '@netlify/functions';
import { verifyHandler } from '../auth/account-handlers.js';
import { functionRuntime } from '../auth/runtime.js';
import { configOf, type CompiledSite } from './prebuilt.js';

/** The `verify` function of a site: where every mailed link is used (`rolegate/functions/verify`). */
export function handlerFor(compiled: CompiledSite): Handler {
  return verifyHandler(functionRuntime(process.env, configOf(compiled), compiled));
}
