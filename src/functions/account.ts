import type { Handler } from '@netlify/functions';
import { accountHandler } from '../auth/account-handlers.js';
import { functionRuntime } from '../auth/runtime.js';
import { configOf, type CompiledSite } from './prebuilt.js';

/** The `account` function of a site: a signed-in user changes their password or address (`rolegate/functions/account`). */
export function handlerFor(compiled: CompiledSite): Handler {
  return accountHandler(functionRuntime(process.env, configOf(compiled), compiled));
}
