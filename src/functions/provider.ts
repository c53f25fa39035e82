import type { Handler } from '@netlify/functions';
import { providerHandler } from '../auth/provider-handler.js';
import { functionRuntime } from '../auth/runtime.js';
import { providerClientsFromEnv } from '../providers/from-env.js';
import { prebuiltAccountSettings } from '../site-config/compiled.js';
import { configOf, type CompiledSite } from './prebuilt.js';

/** The `provider` function: sign-in with the config's providers (`rolegate/functions/provider`). */
export function handlerFor(compiled: CompiledSite): Handler {
  const providers = prebuiltAccountSettings(configOf(compiled), compiled).providers;
  return providerHandler(functionRuntime(process.env, configOf(compiled), compiled), providerClientsFromEnv(process.env, providers));
}
