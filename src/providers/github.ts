import * as oidc from 'openid-client';
import type { ProviderSettings } from '../site-config/provider-settings.js';
import { allowsHttp, PROVIDER_TIMEOUT_SECONDS, providerFailure, type ProviderClient, type ProviderCredentials, type ProviderIdentity } from './client.js';

interface GitHubEmail {
  email?: unknown;
  primary?: unknown;
  verified?: unknown;
}

/**
 * GitHub (github.com or a GitHub Enterprise Server): an OAuth 2 app, not OpenID Connect. The
 * code flow with PKCE goes through openid-client with GitHub's endpoints given by hand; who
 * signed in is GitHub's numeric user id (a login name can change hands), and the address is
 * the primary one only when GitHub says it is verified (`GET /user/emails`).
 */
export function githubClient(settings: ProviderSettings, credentials: ProviderCredentials): ProviderClient {
  const web = settings.webUrl!;
  const api = settings.apiUrl!;
  const config = new oidc.Configuration(
    { issuer: web, authorization_endpoint: `${web}/login/oauth/authorize`, token_endpoint: `${web}/login/oauth/access_token` },
    credentials.clientId, credentials.clientSecret,
  );
  config.timeout = PROVIDER_TIMEOUT_SECONDS;
  if (allowsHttp(web)) oidc.allowInsecureRequests(config);

  const apiGet = async (path: string, accessToken: string): Promise<unknown> => {
    const response = await fetch(`${api}${path}`, {
      headers: { Authorization: `Bearer ${accessToken}`, Accept: 'application/vnd.github+json', 'X-GitHub-Api-Version': '2022-11-28', 'User-Agent': 'rolegate' },
      signal: AbortSignal.timeout(PROVIDER_TIMEOUT_SECONDS * 1000),
      redirect: 'error',
    });
    if (!response.ok) throw new oidc.ClientError(`GitHub answered ${response.status} for ${path}`, { cause: response });
    return response.json();
  };

  return {
    settings,
    async authorizationUrl({ redirectUri, state, codeVerifier }) {
      return oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri, scope: settings.scopes.join(' '), state, allow_signup: 'true',
        code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256',
      }).href;
    },
    async identify({ callbackUrl, redirectUri, state, codeVerifier }) {
      try {
        const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: codeVerifier, expectedState: state, idTokenExpected: false }, { redirect_uri: redirectUri });
        const user = (await apiGet('/user', tokens.access_token)) as { id?: unknown };
        if (typeof user?.id !== 'number' || !Number.isSafeInteger(user.id)) throw new oidc.ClientError('GitHub sent a user without an id');
        const emails = await apiGet('/user/emails', tokens.access_token);
        return { subject: String(user.id), ...primaryAddress(Array.isArray(emails) ? (emails as GitHubEmail[]) : []) };
      } catch (error) {
        throw providerFailure(error);
      }
    },
  };
}

/** The primary address, verified or not (an unverified one may still name the account it must not take over). */
function primaryAddress(emails: GitHubEmail[]): Pick<ProviderIdentity, 'email' | 'emailVerified'> {
  const primary = emails.find((e) => e?.primary === true && typeof e.email === 'string');
  if (!primary) return { email: null, emailVerified: false };
  return { email: primary.email as string, emailVerified: primary.verified === true };
}
