import { AuthError } from '../core/auth-errors.js';
import { emailTokenHash, newEmailToken } from '../core/email-token.js';
import { bcryptHasher, verifyPasswordEvenly } from '../core/password.js';
import { DEFAULT_ACCOUNT_SETTINGS, linkLifetime } from '../site-config/account-settings.js';
import type { AuthDeps } from './deps.js';
import { countWrongPassword, refuseIfThrottled, throttleKeys } from './login.js';
import { chosenPassword, mailThrottle, mailThrottled, requestedAddress, sealedLink } from './mailed-link.js';
import type { AuthenticatedUser } from './require-role.js';

export interface AccountRequest {
  /** The signed-in user, from the access token (requireRole). */
  session: Pick<AuthenticatedUser, 'id' | 'sessionId'>;
  fields: Record<string, unknown>;
  ip: string;
  /**
   * What proves the change is the owner's: the current password (the default), or, for
   * Identity's clients, which never send it, a session started in the last RECENT_SESSION_SECONDS;
   * `proven` when the caller asked one of the two already (proveOwnership) for a request making several changes.
   */
  proof?: 'current_password' | 'recent_session' | 'proven';
}

/** How young a session must be to change the password or address without the current one (Identity's clients). */
export const RECENT_SESSION_SECONDS = 600;

/**
 * The current password, checked like a login checks one (the same throttle keys and the same
 * bcrypt work), so a session left open on a shared computer is no way to guess it or to change
 * the account without it.
 */
export async function proveOwnership(deps: AuthDeps, request: AccountRequest): Promise<void> {
  if (request.proof === 'proven') return;
  if (request.proof === 'recent_session') {
    const recent = await deps.store.sessionIsRecent({ userId: request.session.id, sessionId: request.session.sessionId, seconds: RECENT_SESSION_SECONDS });
    if (!recent) throw new AuthError('reauthentication_required');
    return;
  }
  const current = request.fields.current_password;
  if (typeof current !== 'string' || current.length < 1 || current.length > 1024) {
    throw new AuthError('bad_request', { message: 'Send your current password.' });
  }
  // An ended session learns nothing, not even whether the password it sends is right.
  if (!(await deps.store.sessionIsLive({ userId: request.session.id, sessionId: request.session.sessionId }))) throw new AuthError('session_expired');
  const user = await deps.store.findUserById(request.session.id);
  if (!user) throw new AuthError('session_expired');
  const keys = throttleKeys(deps, user.email, request.ip);
  await refuseIfThrottled(deps, keys);
  const withHash = await deps.store.findUserForLogin(user.email);
  const hash = withHash?.id === user.id ? withHash.passwordHash : null;
  const hasher = deps.passwords ?? bcryptHasher;
  if (await verifyPasswordEvenly({ password: current, hash, workCost: deps.config.bcryptCost, hasher })) return;
  await countWrongPassword(deps, keys, { userId: user.id, ip: request.ip });
  throw new AuthError('wrong_password');
}

/**
 * A signed-in user sets a new password, giving the current one. Every other session of the
 * user ends (their refresh tokens stop working; access tokens already issued run out within
 * their short lifetime); this one goes on. Unused recovery links stop working too.
 *
 * @example
 * const { sessionsEnded } = await changePassword(deps, { session: auth.user, fields, ip });
 */
export async function changePassword(deps: AuthDeps, request: AccountRequest): Promise<{ sessionsEnded: number }> {
  const password = chosenPassword(request.fields);
  await proveOwnership(deps, request);
  const passwordHash = await (deps.passwords ?? bcryptHasher).hash(password, deps.config.bcryptCost);
  const result = await deps.store.changePassword({ userId: request.session.id, sessionId: request.session.sessionId, passwordHash, ip: request.ip });
  if (result.status === 'not_live') throw new AuthError('session_expired');
  return { sessionsEnded: result.sessionsEnded };
}

/**
 * A signed-in user asks to move the account to a new address, giving the current password.
 * The new address gets a link that makes the change; the old one is told at once, so a
 * stolen session cannot take the account quietly. An address another account holds gets
 * nothing, and the answer is the same. Limited like every mail.
 *
 * @example
 * await requestEmailChange(deps, { session: auth.user, fields: { email: 'new@example.com', current_password }, ip });
 */
export async function requestEmailChange(deps: AuthDeps, request: AccountRequest): Promise<void> {
  const accounts = deps.accounts ?? DEFAULT_ACCOUNT_SETTINGS;
  const newEmail = requestedAddress(request.fields);
  await proveOwnership(deps, request);
  const token = newEmailToken();
  const result = await deps.store.requestEmailChange({
    userId: request.session.id,
    sessionId: request.session.sessionId,
    newEmail,
    tokenHash: emailTokenHash(token),
    ttlSeconds: linkLifetime(accounts, 'email_change'),
    sealed: sealedLink(deps, token, 'email_change'),
    throttle: mailThrottle(deps, newEmail, `ip:${request.ip}`),
    ip: request.ip,
  });
  if (result.status === 'throttled') throw mailThrottled(result.retryAfterSeconds);
  if (result.status === 'not_live') throw new AuthError('session_expired');
  if (result.status === 'unchanged') throw new AuthError('bad_request', { message: 'That is already the address of your account.' });
  await deps.kickMail?.();
}
