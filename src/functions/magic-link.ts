import type { Handler } from '@netlify/functions';
import { magicLinkHandler } from '../auth/account-handlers.js';
import { functionRuntime } from '../auth/runtime.js';
import { configOf, type CompiledSite } from './prebuilt.js';

/** The `magic-link` function of a site: "mail me a sign-in link", where the config turns it on (`rolegate/functions/magic-link`). */
export function handlerFor(compiled: CompiledSite): Handler {
  return magicLinkHandler(functionRuntime(process.env, configOf(compiled), compiled));
}
