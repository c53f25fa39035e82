import { AuthError } from '../core/auth-errors.js';
import { emailTokenHash, looksLikeEmailToken } from '../core/email-token.js';
import { bcryptHasher, passwordProblem } from '../core/password.js';
import { newRefreshToken, refreshTokenHash } from '../core/refresh-token.js';
import type { EmailTokenState, TokenRefusal } from '../store/store.js';
import type { AuthDeps } from './deps.js';
import { withIdentityRoles } from './identity-roles.js';
import { issueSession } from './issue.js';
import type { LoginResult } from './login.js';

const REFUSALS: Record<TokenRefusal | 'user_unavailable', AuthError['code']> = {
  used: 'link_used',
  expired: 'link_expired',
  wrong_purpose: 'link_invalid',
  not_found: 'link_invalid',
  user_unavailable: 'link_invalid',
};

/** The token of a link that is still good for `purpose`, or the AuthError that says why not. */
async function liveToken(deps: AuthDeps, token: unknown, purpose: 'recovery'): Promise<{ token: string; hash: string }> {
  if (!looksLikeEmailToken(token)) throw new AuthError('link_invalid');
  const hash = emailTokenHash(token);
  const state: EmailTokenState = await deps.store.emailTokenStatus(hash);
  if (state.status === 'valid' && state.purpose === purpose) return { token, hash };
  throw new AuthError(state.status === 'valid' ? 'link_invalid' : REFUSALS[state.status]);
}

/**
 * What a mailed link leads to, without using it: a recovery link that still works leads to
 * the page that chooses the new password. A used, expired or unknown one is an AuthError
 * (`link_used`, `link_expired`, `link_invalid`), so the visitor reads why at once.
 */
export async function openMailedLink(deps: AuthDeps, token: unknown): Promise<{ purpose: 'recovery'; token: string }> {
  return { purpose: 'recovery', token: (await liveToken(deps, token, 'recovery')).token };
}

export interface ResetRequest {
  token: unknown;
  fields: Record<string, unknown>;
  ip: string;
  userAgent?: string;
}

/**
 * A recovery link used: the new password is checked, the token consumed (one of two
 * concurrent uses wins; the other gets `link_used`), every session of the user ended and a
 * new one started here. A dead link is refused before any bcrypt work.
 *
 * @example
 * const { cookies } = await resetPassword(deps, { token, fields: { password }, ip });
 */
export async function resetPassword(deps: AuthDeps, request: ResetRequest): Promise<LoginResult> {
  const { password, password_confirm: confirm } = request.fields;
  if (typeof password !== 'string' || password.length > 1024) throw new AuthError('bad_request', { message: 'Send the new password.' });
  const problem = passwordProblem(password);
  if (problem) throw new AuthError('weak_password', { message: `The new password ${problem}.` });
  if (confirm !== undefined && confirm !== password) throw new AuthError('bad_request', { message: 'The two passwords are not the same.' });
  const { hash } = await liveToken(deps, request.token, 'recovery');

  const passwordHash = await (deps.passwords ?? bcryptHasher).hash(password, deps.config.bcryptCost);
  const refreshToken = newRefreshToken();
  const result = await deps.store.resetPasswordWithToken({
    tokenHash: hash,
    passwordHash,
    refreshTokenHash: refreshTokenHash(refreshToken),
    refreshTtlSeconds: deps.config.refreshTokenTtlSeconds,
    userAgent: request.userAgent,
    ip: request.ip,
  });
  if (result.status !== 'reset') throw new AuthError(REFUSALS[result.status]);
  const user = await withIdentityRoles(deps, result.user);
  const issued = await issueSession(deps, user, result.sessionId, refreshToken);
  return { user: { id: user.id, email: user.email, roles: user.roles }, expiresAt: issued.expiresAt, cookies: issued.cookies };
}
