/** Where sign-in through a provider starts (`<path>/<id>`) and returns (`<path>/<id>/callback`), and the function behind it. */
export const PROVIDER_PATH = '/auth/provider';
export const PROVIDER_FUNCTION = '/.netlify/functions/provider';

/** GitHub speaks plain OAuth 2 (its API tells the address); the others OpenID Connect. */
export type ProviderKind = 'github' | 'google' | 'gitlab' | 'oidc';

/**
 * One sign-in provider as the provider function needs it: the `providers` entries of
 * rolegate.config.json (src/site-config/providers.ts) with every default filled in at build,
 * plain data so the function never loads zod. Secrets stay in the environment, named here.
 */
export interface ProviderSettings {
  /** The path segment and the provider's name in the identities table. */
  id: string;
  kind: ProviderKind;
  /** What the button says after "Sign in with". */
  name: string;
  /** OpenID Connect kinds: the issuer whose discovery document and keys are used. */
  issuer?: string;
  /** GitHub: where people sign in (github.com, or a GitHub Enterprise Server) and its REST API. */
  webUrl?: string;
  apiUrl?: string;
  clientIdEnv: string;
  clientSecretEnv: string;
  scopes: string[];
}

/** The callback path of `provider`, the redirect URI registered with it (after the site's URL). */
export function providerCallbackPath(providerId: string): string {
  return `${PROVIDER_PATH}/${providerId}/callback`;
}
