import { AuthError } from '../core/auth-errors.js';
import { normalizeEmail } from '../core/email.js';
import { verificationSecrets } from '../core/environment.js';
import { newProviderState, openProviderState, PROVIDER_STATE_TTL_SECONDS, sameState, sealProviderState, stateHash } from '../core/provider-state.js';
import { newRefreshToken, refreshTokenHash } from '../core/refresh-token.js';
import { providerStateCookie, readProviderStateCookie } from '../http/cookies.js';
import type { ProviderClient, ProviderIdentity } from '../providers/client.js';
import { DEFAULT_ACCOUNT_SETTINGS, type AccountSettings } from '../site-config/account-settings.js';
import { PROVIDER_PATH, providerCallbackPath } from '../site-config/provider-settings.js';
import { cookiePolicy, type AuthDeps } from './deps.js';
import { withIdentityRoles } from './identity-roles.js';
import { issueSession } from './issue.js';

export interface ProviderStart {
  /** The origin the visitor is on (one of ALLOWED_ORIGINS): the callback comes back to it, where the state cookie is. */
  origin: string;
  /** A safe same-site path (safeNextPath) to return to once signed in. */
  next: string;
  /** How the session reaches the browser: cookies (the default), or the URL fragment for Identity's clients. */
  deliver?: 'cookies' | 'fragment';
}

export interface ProviderCallback {
  origin: string;
  /** The callback URL as the browser requested it: code, state, and the provider's error or `iss`. */
  callbackUrl: URL;
  cookies: Record<string, string>;
  ip: string;
  userAgent?: string;
}

export interface ProviderSignedIn {
  next: string;
  /** The session cookies and the state's deletion; only the deletion when the tokens go in the fragment. */
  cookies: string[];
  deliver: 'cookies' | 'fragment';
  tokens: { access: string; refresh: string };
  expiresAt: number;
  outcome: 'signed_in' | 'linked' | 'created';
  user: { id: string; email: string; roles: string[] };
}

const redirectUri = (client: ProviderClient, origin: string) => `${origin}${providerCallbackPath(client.settings.id)}`;

/** The cookie that ends a sign-in's state, for every answer of its callback. */
export function clearedProviderState(deps: AuthDeps): string {
  return providerStateCookie(cookiePolicy(deps), PROVIDER_PATH);
}

/**
 * Starts signing in with `client`: a new state, nonce and PKCE verifier, sealed into an
 * HttpOnly cookie that lives PROVIDER_STATE_TTL_SECONDS, and the provider's authorization URL
 * for the browser to go to. Nothing is written anywhere else, so a start costs no database work.
 */
export async function startProviderSignIn(deps: AuthDeps, client: ProviderClient, request: ProviderStart): Promise<{ location: string; cookies: string[] }> {
  const state = newProviderState(client.settings.id, request.next, request.deliver ?? 'cookies', deps.now());
  const location = await client.authorizationUrl({ redirectUri: redirectUri(client, request.origin), state: state.state, nonce: state.nonce, codeVerifier: state.codeVerifier });
  const sealed = sealProviderState(deps.config.jwtSecret, state);
  return { location, cookies: [providerStateCookie(cookiePolicy(deps), PROVIDER_PATH, sealed, PROVIDER_STATE_TTL_SECONDS)] };
}

/** Whether the registration policy lets a provider sign-in make a user for `email`, and the refusal when it does not. */
function registrationFor(accounts: AccountSettings, email: string | null): { mayCreate: boolean; refusal: AuthError } {
  if (accounts.registration !== 'open') {
    return { mayCreate: false, refusal: new AuthError('signup_disabled', accounts.registration === 'invite' ? { message: 'Sign-up here is by invitation only.' } : {}) };
  }
  const domain = email ? email.slice(email.lastIndexOf('@') + 1) : '';
  if (accounts.allowedDomains.length && !accounts.allowedDomains.includes(domain)) return { mayCreate: false, refusal: new AuthError('email_not_allowed') };
  return { mayCreate: true, refusal: new AuthError('signup_disabled') };
}

/** A usable address from the provider: normalised, within the length an address may have, without what PostgreSQL text cannot hold. */
function providerAddress(identity: ProviderIdentity): string | null {
  const email = identity.email;
  if (email === null || email.length > 320 || !email.includes('@') || email.includes('\u0000')) return null;
  return normalizeEmail(email);
}

/**
 * The provider's callback: the sealed state must open, belong to this provider, be unexpired
 * and equal the callback's `state` (else `provider_state_invalid`); the provider then redeems
 * the code with the PKCE verifier and tells who signed in (ProviderClient.identify), and one
 * SQL call uses the state up, finds or links or makes the user (a verified address only; new
 * users by the registration policy) and starts rolegate's own session.
 *
 * @example
 * const { next, cookies } = await finishProviderSignIn(deps, client, { origin, callbackUrl, cookies, ip });
 */
export async function finishProviderSignIn(deps: AuthDeps, client: ProviderClient, request: ProviderCallback): Promise<ProviderSignedIn> {
  const sealed = readProviderStateCookie(request.cookies, cookiePolicy(deps));
  const state = sealed ? openProviderState(verificationSecrets(deps.config), sealed) : null;
  const presented = request.callbackUrl.searchParams.get('state');
  const now = deps.now();
  if (!state || state.provider !== client.settings.id || state.expiresAt <= now || presented === null || !sameState(state.state, presented)) {
    throw new AuthError('provider_state_invalid');
  }
  const identity = await client.identify({
    callbackUrl: request.callbackUrl, redirectUri: redirectUri(client, request.origin), state: state.state, nonce: state.nonce, codeVerifier: state.codeVerifier,
  });
  if (identity.subject.length < 1 || identity.subject.length > 255 || identity.subject.includes('\u0000')) throw new AuthError('provider_failed');
  const email = providerAddress(identity);
  const accounts = deps.accounts ?? DEFAULT_ACCOUNT_SETTINGS;
  const registration = registrationFor(accounts, email);
  const refreshToken = newRefreshToken();
  const result = await deps.store.signInWithProvider({
    provider: client.settings.id,
    subject: identity.subject,
    email,
    emailVerified: identity.emailVerified && email !== null,
    stateHash: stateHash(state.state),
    stateTtlSeconds: state.expiresAt - now,
    mayCreate: registration.mayCreate,
    newUserRoles: accounts.newUserRoles,
    refreshTokenHash: refreshTokenHash(refreshToken),
    refreshTtlSeconds: deps.config.refreshTokenTtlSeconds,
    userAgent: request.userAgent,
    ip: request.ip,
  });
  if (result.status !== 'signed_in') {
    if (result.status === 'state_used') throw new AuthError('provider_state_invalid');
    if (result.status === 'email_unverified') throw new AuthError('provider_email_unverified');
    if (result.status === 'registration_closed') throw registration.refusal;
    throw new AuthError('invalid_credentials', { message: 'This account cannot sign in.' });
  }
  const user = await withIdentityRoles(deps, result.user);
  const issued = await issueSession(deps, user, result.sessionId, refreshToken);
  return {
    next: state.next,
    cookies: state.deliver === 'fragment' ? [clearedProviderState(deps)] : [...issued.cookies, clearedProviderState(deps)],
    deliver: state.deliver,
    tokens: { access: issued.accessToken, refresh: refreshToken },
    expiresAt: issued.expiresAt,
    outcome: result.outcome,
    user: { id: user.id, email: user.email, roles: user.roles },
  };
}
