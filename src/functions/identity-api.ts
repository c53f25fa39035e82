import type { Handler } from '@netlify/functions';
import { identityApiHandler } from '../auth/identity-api-handler.js';
import { functionRuntime } from '../auth/runtime.js';
import { configOf, type CompiledSite } from './prebuilt.js';

/** The `identity-api` function: Netlify Identity's API for its own clients, where the config turns it on (`rolegate/functions/identity-api`). */
export function handlerFor(compiled: CompiledSite): Handler {
  return identityApiHandler(functionRuntime(process.env, configOf(compiled), compiled));
}
