import { AuthError } from '../core/auth-errors.js';
import { emailTokenHash, looksLikeEmailToken, type EmailTokenPurpose } from '../core/email-token.js';
import { bcryptHasher } from '../core/password.js';
import { newRefreshToken, refreshTokenHash } from '../core/refresh-token.js';
import type { EmailTokenState, TokenRefusal, User } from '../store/store.js';
import { DEFAULT_ACCOUNT_SETTINGS } from '../site-config/account-settings.js';
import type { AuthDeps } from './deps.js';
import { withIdentityRoles } from './identity-roles.js';
import { issueSession } from './issue.js';
import type { LoginResult } from './login.js';
import { chosenPassword } from './mailed-link.js';

const REFUSALS: Record<TokenRefusal | 'user_unavailable', AuthError['code']> = {
  used: 'link_used',
  expired: 'link_expired',
  wrong_purpose: 'link_invalid',
  not_found: 'link_invalid',
  user_unavailable: 'link_invalid',
};

/** The links verify takes: those that choose a password, and those that sign in at once. */
export const PASSWORD_LINKS = ['recovery', 'invite'] as const;
export const SIGN_IN_LINKS = ['signup', 'magic_link'] as const;
export type UsableLinkPurpose = (typeof PASSWORD_LINKS)[number] | (typeof SIGN_IN_LINKS)[number] | 'email_change';

function isUsable(purpose: EmailTokenPurpose): purpose is UsableLinkPurpose {
  return (PASSWORD_LINKS as readonly string[]).includes(purpose) || (SIGN_IN_LINKS as readonly string[]).includes(purpose) || purpose === 'email_change';
}

/** True for a link that leads to the choose-a-password form. */
export function choosesPassword(purpose: UsableLinkPurpose): boolean {
  return (PASSWORD_LINKS as readonly string[]).includes(purpose);
}

/** Why a link cannot be used, and, when the token is known, what it was for (so the page can offer the right new link). */
export class LinkRefusedError extends AuthError {
  constructor(code: AuthError['code'], readonly purpose?: EmailTokenPurpose) {
    super(code);
    this.name = 'LinkRefusedError';
  }
}

/** The token of a link that still works and what it is for, or the LinkRefusedError that says why not. */
async function liveToken(deps: AuthDeps, token: unknown): Promise<{ token: string; hash: string; purpose: UsableLinkPurpose }> {
  if (!looksLikeEmailToken(token)) throw new LinkRefusedError('link_invalid');
  const hash = emailTokenHash(token);
  const state: EmailTokenState = await deps.store.emailTokenStatus(hash);
  if (state.status === 'not_found') throw new LinkRefusedError('link_invalid');
  if (state.status !== 'valid') throw new LinkRefusedError(REFUSALS[state.status], state.purpose);
  // A sign-in link the config has since turned off works no more.
  const turnedOff = state.purpose === 'magic_link' && !(deps.accounts ?? DEFAULT_ACCOUNT_SETTINGS).signInLinks;
  if (!isUsable(state.purpose) || turnedOff) throw new LinkRefusedError('link_invalid', state.purpose);
  return { token, hash, purpose: state.purpose };
}

/**
 * What a mailed link leads to, without using it: a recovery or invitation link that still
 * works leads to the page that chooses the password, a sign-up or address change confirmation
 * or a sign-in link to the page that confirms. A used, expired or unknown one is an AuthError (`link_used`, `link_expired`,
 * `link_invalid`), so the visitor reads why at once.
 */
export async function openMailedLink(deps: AuthDeps, token: unknown): Promise<{ purpose: UsableLinkPurpose; token: string }> {
  const { purpose } = await liveToken(deps, token);
  return { purpose, token: token as string };
}

export interface UseLinkRequest {
  token: unknown;
  fields: Record<string, unknown>;
  ip: string;
  userAgent?: string;
}

function signedIn(user: User, issued: { accessToken: string; expiresAt: number; cookies: string[] }, refreshToken: string): LoginResult {
  return { user: { id: user.id, email: user.email, roles: user.roles }, expiresAt: issued.expiresAt, cookies: issued.cookies, tokens: { access: issued.accessToken, refresh: refreshToken } };
}

/** How a client uses links: which kinds it may use here, and whether a password link may sign in before a password is chosen. */
export interface LinkUse {
  purposes?: readonly UsableLinkPurpose[];
  /** Identity's clients sign in with a recovery link first and send the new password after (PUT /user). */
  passwordLater?: boolean;
}

/**
 * A mailed link used; the token is consumed in one statement, so of two concurrent uses one
 * wins and the other gets `link_used`. A recovery or invitation link sets the password sent
 * (checked first, and a dead link is refused before any bcrypt work), ends every other
 * session of the user and signs in here; a confirmation link confirms the address (or moves
 * the account to the new one) and signs in.
 *
 * @example
 * const { cookies } = await useMailedLink(deps, { token, fields: { password }, ip });
 */
export async function useMailedLink(deps: AuthDeps, request: UseLinkRequest, use: LinkUse = {}): Promise<LoginResult> {
  // A password sent is checked before the link, so a form's mistake is answered as one.
  const password = request.fields.password === undefined ? undefined : chosenPassword(request.fields);
  const link = await liveToken(deps, request.token);
  if (use.purposes && !use.purposes.includes(link.purpose)) throw new LinkRefusedError('link_invalid', link.purpose);
  const refreshToken = newRefreshToken();
  const session = {
    tokenHash: link.hash,
    refreshTokenHash: refreshTokenHash(refreshToken),
    refreshTtlSeconds: deps.config.refreshTokenTtlSeconds,
    userAgent: request.userAgent,
    ip: request.ip,
  };
  if (choosesPassword(link.purpose) && password === undefined && use.passwordLater) {
    const result = await deps.store.signInWithPasswordLink({ ...session, purposes: [link.purpose as (typeof PASSWORD_LINKS)[number]] });
    if (result.status !== 'signed_in') throw new AuthError(REFUSALS[result.status]);
    const user = await withIdentityRoles(deps, result.user);
    return signedIn(user, await issueSession(deps, user, result.sessionId, refreshToken), refreshToken);
  }
  if (choosesPassword(link.purpose)) {
    // No password sent: chosenPassword answers that one is needed.
    const passwordHash = await (deps.passwords ?? bcryptHasher).hash(password ?? chosenPassword(request.fields), deps.config.bcryptCost);
    const result = await deps.store.resetPasswordWithToken({ ...session, passwordHash });
    if (result.status !== 'reset') throw new AuthError(REFUSALS[result.status]);
    const user = await withIdentityRoles(deps, result.user);
    return signedIn(user, await issueSession(deps, user, result.sessionId, refreshToken), refreshToken);
  }
  if (link.purpose === 'email_change') {
    const result = await deps.store.changeEmailWithToken(session);
    if (result.status === 'email_taken') throw new AuthError('link_invalid', { message: 'That address belongs to another account now, so nothing was changed.' });
    if (result.status !== 'changed') throw new AuthError(REFUSALS[result.status]);
    const user = await withIdentityRoles(deps, result.user);
    return signedIn(user, await issueSession(deps, user, result.sessionId, refreshToken), refreshToken);
  }
  const result = await deps.store.signInWithToken({ ...session, purposes: [...SIGN_IN_LINKS] });
  if (result.status !== 'signed_in') throw new AuthError(REFUSALS[result.status]);
  const user = await withIdentityRoles(deps, result.user);
  return signedIn(user, await issueSession(deps, user, result.sessionId, refreshToken), refreshToken);
}
