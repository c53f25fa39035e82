import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { AuthError } from '../core/auth-errors.js';
import type { ProviderSettings } from '../site-config/provider-settings.js';
import { allowsHttp, PROVIDER_TIMEOUT_SECONDS, providerFailure, type ProviderClient, type ProviderCredentials, type ProviderIdentity } from './client.js';

/** Asymmetric only: an ID token "signed" with the client secret (HS256) or unsigned is refused. */
const ID_TOKEN_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

interface Discovered {
  config: oidc.Configuration;
  keys: ReturnType<typeof createRemoteJWKSet>;
}

/** `true`, or the string some providers send for it. */
const verified = (value: unknown) => value === true || value === 'true';

/**
 * An OpenID Connect provider (Google, GitLab, any issuer): discovery and the code flow through
 * openid-client; the ID token's signature, issuer, audience, expiry and nonce verified again
 * with jose against the provider's JWKS (openid-client leaves the signature of a token-endpoint
 * ID token to TLS). Discovery and keys are fetched once per function instance and kept; a
 * failed discovery is tried again by the next request.
 */
export function oidcClient(settings: ProviderSettings, credentials: ProviderCredentials): ProviderClient {
  const issuer = settings.issuer!;
  let discovered: Promise<Discovered> | undefined;
  const discover = () => {
    discovered ??= (async () => {
      const config = await oidc.discovery(new URL(issuer), credentials.clientId, credentials.clientSecret, undefined, {
        timeout: PROVIDER_TIMEOUT_SECONDS,
        ...(allowsHttp(issuer) ? { execute: [oidc.allowInsecureRequests] } : {}),
      });
      const jwksUri = config.serverMetadata().jwks_uri;
      if (!jwksUri) throw new AuthError('provider_failed', { message: 'The provider publishes no signing keys.' });
      return { config, keys: createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: PROVIDER_TIMEOUT_SECONDS * 1000 }) };
    })();
    discovered.catch(() => { discovered = undefined; });
    return discovered;
  };

  return {
    settings,
    async authorizationUrl({ redirectUri, state, nonce, codeVerifier }) {
      try {
        const { config } = await discover();
        return oidc.buildAuthorizationUrl(config, {
          redirect_uri: redirectUri, scope: settings.scopes.join(' '), response_type: 'code', state, nonce,
          code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256',
        }).href;
      } catch (error) {
        throw providerFailure(error);
      }
    },
    async identify({ callbackUrl, redirectUri, state, nonce, codeVerifier }) {
      try {
        const { config, keys } = await discover();
        const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce }, { redirect_uri: redirectUri });
        if (!tokens.id_token) throw new AuthError('provider_failed', { message: 'The provider sent no ID token.' });
        const { payload } = await jwtVerify(tokens.id_token, keys, {
          issuer: config.serverMetadata().issuer, audience: credentials.clientId, algorithms: ID_TOKEN_ALGORITHMS, requiredClaims: ['sub', 'exp', 'iat'],
        });
        if (payload.nonce !== nonce) throw new AuthError('provider_failed', { message: 'The ID token was not made for this sign-in.' });
        return await identityOf(config, payload, tokens.access_token);
      } catch (error) {
        throw providerFailure(error);
      }
    },
  };
}

/** Who signed in: the ID token's subject, and its address, from the UserInfo endpoint when the ID token has none. */
async function identityOf(config: oidc.Configuration, payload: JWTPayload, accessToken: string): Promise<ProviderIdentity> {
  const subject = payload.sub!;
  if (typeof payload.email === 'string') return { subject, email: payload.email, emailVerified: verified(payload.email_verified) };
  if (!config.serverMetadata().userinfo_endpoint) return { subject, email: null, emailVerified: false };
  const info = await oidc.fetchUserInfo(config, accessToken, subject);
  return { subject, email: typeof info.email === 'string' ? info.email : null, emailVerified: verified(info.email_verified) };
}
