import type { Handler } from '@netlify/functions';
import { signupHandler } from '../auth/account-handlers.js';
import { functionRuntime } from '../auth/runtime.js';
import { configOf, type CompiledSite } from './prebuilt.js';

/** The `signup` function of a site: a visitor's sign-up, under the config's registration policy (`rolegate/functions/signup`). */
export function handlerFor(compiled: CompiledSite): Handler {
  return signupHandler(functionRuntime(process.env, configOf(compiled), compiled));
}
