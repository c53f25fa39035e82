import type { Handler } from '@netlify/functions';
import { inviteHandler } from '../auth/account-handlers.js';
import { functionRuntime } from '../auth/runtime.js';
import { configOf, type CompiledSite } from './prebuilt.js';

/** The `invite` function of a site: an admin invites an address (`rolegate/functions/invite`). */
export function handlerFor(compiled: CompiledSite): Handler {
  return inviteHandler(functionRuntime(process.env, configOf(compiled), compiled));
}
