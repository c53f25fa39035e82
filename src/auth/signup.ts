import { AuthError } from '../core/auth-errors.js';
import { emailTokenHash, newEmailToken } from '../core/email-token.js';
import { bcryptHasher } from '../core/password.js';
import { newRefreshToken, refreshTokenHash } from '../core/refresh-token.js';
import { DEFAULT_ACCOUNT_SETTINGS, type AccountSettings, linkLifetime } from '../site-config/account-settings.js';
import type { User } from '../store/store.js';
import type { AuthDeps } from './deps.js';
import { withIdentityRoles } from './identity-roles.js';
import { issueSession } from './issue.js';
import type { LoginResult, LoginRequest } from './login.js';
import { chosenPassword, mailThrottle, mailThrottled, requestedAddress, sealedLink } from './mailed-link.js';

/**
 * `mailed`: a confirmation (or, for a known address, a notice to its owner) is on its way; `signed_in`: no confirmation
 * asked; `created`: the same, for a caller that asked for no session.
 */
export type SignupOutcome = { status: 'mailed' } | { status: 'signed_in'; login: LoginResult } | { status: 'created'; user: User };

/** Whether the policy takes a sign-up from `email`, or the AuthError that says why not. */
function checkPolicy(accounts: AccountSettings, email: string): void {
  if (accounts.registration !== 'open') {
    throw new AuthError('signup_disabled', accounts.registration === 'invite' ? { message: 'Sign-up here is by invitation only.' } : {});
  }
  const domain = email.slice(email.lastIndexOf('@') + 1);
  if (accounts.allowedDomains.length && !accounts.allowedDomains.includes(domain)) throw new AuthError('email_not_allowed');
}

/**
 * A visitor signs up with an address and a password. With an open registration and an
 * allowed address, the account is made with the configured roles and a confirmation link
 * is mailed; it cannot sign in before the link is used. An address that already has an
 * account changes nothing and its owner is mailed instead, and the answer is the same
 * `mailed` after the same work (the password hashed every time), so it tells nobody which
 * addresses are known. Without confirmation asked, a new account signs in at once.
 * Limited like every mail, per address and per client address.
 *
 * @example
 * const outcome = await signUp(deps, { fields: { email, password }, ip });
 */
export async function signUp(deps: AuthDeps, request: LoginRequest, options: { session?: boolean; userMetadata?: Record<string, unknown> } = {}): Promise<SignupOutcome> {
  const accounts = deps.accounts ?? DEFAULT_ACCOUNT_SETTINGS;
  const email = requestedAddress(request.fields);
  checkPolicy(accounts, email);
  const password = chosenPassword(request.fields);
  const passwordHash = await (deps.passwords ?? bcryptHasher).hash(password, deps.config.bcryptCost);
  const token = newEmailToken();
  const result = await deps.store.requestSignup({
    email,
    passwordHash,
    roles: accounts.newUserRoles,
    confirmed: !accounts.requireConfirmation,
    tokenHash: emailTokenHash(token),
    ttlSeconds: linkLifetime(accounts, 'signup'),
    sealed: sealedLink(deps, token, 'signup'),
    throttle: mailThrottle(deps, email, `ip:${request.ip}`),
    ip: request.ip,
    ...(options.userMetadata ? { userMetadata: options.userMetadata } : {}),
  });
  if (result.status === 'throttled') throw mailThrottled(result.retryAfterSeconds);
  if (result.status !== 'created') {
    await deps.kickMail?.();
    return { status: 'mailed' };
  }
  if (options.session === false) return { status: 'created', user: result.user };
  const refreshToken = newRefreshToken();
  const session = await deps.store.createSession({
    userId: result.user.id,
    refreshTokenHash: refreshTokenHash(refreshToken),
    refreshTtlSeconds: deps.config.refreshTokenTtlSeconds,
    userAgent: request.userAgent,
    ip: request.ip,
  });
  // Disabled in the instant since it was made: an admin's decision, as at a login.
  if (session.status !== 'created') throw new AuthError('invalid_credentials');
  const user = await withIdentityRoles(deps, session.user);
  const issued = await issueSession(deps, user, session.sessionId, refreshToken);
  const login = { user: { id: user.id, email: user.email, roles: user.roles }, expiresAt: issued.expiresAt, cookies: issued.cookies, tokens: { access: issued.accessToken, refresh: refreshToken } };
  return { status: 'signed_in', login };
}
