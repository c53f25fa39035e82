import type { ProviderSettings } from '../site-config/provider-settings.js';
import type { ProviderClient, ProviderCredentials } from './client.js';
import { githubClient } from './github.js';
import { oidcClient } from './oidc.js';

/** The client for one configured provider: GitHub's own OAuth flow, or OpenID Connect for every other kind. */
export function providerClient(settings: ProviderSettings, credentials: ProviderCredentials): ProviderClient {
  return settings.kind === 'github' ? githubClient(settings, credentials) : oidcClient(settings, credentials);
}

export type { ProviderClient, ProviderCredentials, ProviderIdentity } from './client.js';
