import { AuthError } from '../core/auth-errors.js';
import type { Env } from '../core/environment.js';
import type { ProviderSettings } from '../site-config/provider-settings.js';
import type { ProviderClient } from './client.js';
import { providerClient } from './index.js';

/** Finds a configured provider's client by id: undefined for an id the config does not list. */
export type ProviderClients = (id: string) => ProviderClient | undefined;

/**
 * The clients of the configured providers, each made at its first use with the client id and
 * secret from the variables its entry names, then kept for the instance (with its discovery
 * and keys). A provider whose variables are unset answers `provider_unavailable`, and the log
 * names the variables (never their values).
 */
export function providerClientsFromEnv(env: Env, providers: readonly ProviderSettings[]): ProviderClients {
  const made = new Map<string, ProviderClient>();
  return (id) => {
    const settings = providers.find((p) => p.id === id);
    if (!settings) return undefined;
    const existing = made.get(id);
    if (existing) return existing;
    const clientId = env[settings.clientIdEnv];
    const clientSecret = env[settings.clientSecretEnv];
    if (!clientId || !clientSecret) {
      console.error(`rolegate: provider "${id}" is configured but ${[!clientId && settings.clientIdEnv, !clientSecret && settings.clientSecretEnv].filter(Boolean).join(' and ')} not set`);
      throw new AuthError('provider_unavailable', { message: 'This way of signing in is not set up yet. Sign in another way, or try again later.' });
    }
    const client = providerClient(settings, { clientId, clientSecret });
    made.set(id, client);
    return client;
  };
}
