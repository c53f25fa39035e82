import * as oidc from 'openid-client';
import { AuthError } from '../core/auth-errors.js';
import type { ProviderSettings } from '../site-config/provider-settings.js';

/** Who the provider says signed in. `emailVerified` is the provider's word, never assumed. */
export interface ProviderIdentity {
  subject: string;
  email: string | null;
  emailVerified: boolean;
}

/** One provider's side of the authorization code flow (openid-client does the protocol work). */
export interface ProviderClient {
  readonly settings: ProviderSettings;
  /** Where to send the browser: the provider's authorization endpoint with state, nonce and the S256 PKCE challenge. */
  authorizationUrl(request: { redirectUri: string; state: string; nonce: string; codeVerifier: string }): Promise<string>;
  /** Checks the callback, redeems its code with the PKCE verifier and tells who signed in; AuthError when anything does not hold. */
  identify(request: { callbackUrl: URL; redirectUri: string; state: string; nonce: string; codeVerifier: string }): Promise<ProviderIdentity>;
}

/** The credentials a provider's entry names, from the environment. */
export interface ProviderCredentials {
  clientId: string;
  clientSecret: string;
}

/** Seconds each request to a provider may take: a hung provider must not hold the function to its own timeout. */
export const PROVIDER_TIMEOUT_SECONDS = 5;

/** http is allowed (by the config schema) for loopback providers only; openid-client asks for it by name. */
export function allowsHttp(url: string): boolean {
  return new URL(url).protocol === 'http:';
}

const causeStatus = (error: unknown): number | undefined => {
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Response ? cause.status : undefined;
};

/**
 * The AuthError for what a provider exchange threw: the visitor turned it down
 * (`provider_denied`), the provider could not be reached or failed (`provider_unavailable`), or
 * its answer did not hold up (`provider_failed`: a used or foreign code, an ID token for another
 * audience or issuer, a wrong nonce, an expired token, a bad signature).
 */
export function providerFailure(error: unknown): AuthError {
  if (error instanceof AuthError) return error;
  if (error instanceof oidc.AuthorizationResponseError) {
    return error.error === 'access_denied' ? new AuthError('provider_denied', { cause: error }) : new AuthError('provider_failed', { cause: error });
  }
  if (error instanceof oidc.ResponseBodyError) {
    return new AuthError(error.status >= 500 ? 'provider_unavailable' : 'provider_failed', { cause: error });
  }
  const status = causeStatus(error);
  const name = (error as { name?: unknown })?.name;
  // A TypeError from fetch is a network failure; openid-client's own (ERR_INVALID_ARG_*) a malformed answer.
  const networkTypeError = error instanceof TypeError && !String((error as { code?: unknown }).code ?? '').startsWith('ERR_INVALID_ARG');
  if ((status !== undefined && status >= 500) || networkTypeError || name === 'TimeoutError' || name === 'AbortError'
    || (error instanceof oidc.ClientError && error.code === 'OAUTH_RESPONSE_IS_NOT_JSON')) {
    return new AuthError('provider_unavailable', { cause: error });
  }
  return new AuthError('provider_failed', { cause: error });
}
