import { AuthError } from '../core/auth-errors.js';
import { emailTokenHash, newEmailToken } from '../core/email-token.js';
import { roleNameProblem } from '../core/role-name.js';
import type { User } from '../store/store.js';
import { DEFAULT_ACCOUNT_SETTINGS, linkLifetime } from '../site-config/account-settings.js';
import type { AuthDeps } from './deps.js';
import { mailThrottle, mailThrottled, requestedAddress, sealedLink } from './mailed-link.js';

export interface InviteRequest {
  fields: Record<string, unknown>;
  /** The signed-in admin who invites, and the session they invite from; absent at the terminal. */
  inviterId?: string;
  inviterSessionId?: string;
  ip?: string;
}

export type InviteOutcome = { status: 'invited' | 'resent'; user: User };

const MAX_ROLES = 32;
/** Roles are signed twice into every access token (for Netlify's gate and for Identity's clients), which has a 4 KiB cap. */
const MAX_ROLES_BYTES = 512;

/** `roles` as a script (an array) or a form (one comma-separated field) sends it; absent: the configured roles for new users. */
export function requestedRoles(value: unknown, fallback: string[]): string[] {
  if (value === undefined) return fallback;
  const list = typeof value === 'string' ? value.split(',').map((r) => r.trim()).filter(Boolean) : value;
  if (!Array.isArray(list) || list.length > MAX_ROLES || !list.every((r) => typeof r === 'string')) {
    throw new AuthError('bad_request', { message: 'Send roles as a list of role names.' });
  }
  const bad = list.find((r) => roleNameProblem(r) !== null);
  if (bad !== undefined) throw new AuthError('bad_request', { message: `"${bad.slice(0, 64)}": ${roleNameProblem(bad)}.` });
  const roles = [...new Set(list)];
  if (Buffer.byteLength(JSON.stringify(roles)) > MAX_ROLES_BYTES) throw new AuthError('bad_request', { message: `Keep the roles under ${MAX_ROLES_BYTES} bytes in all: they travel in every access token.` });
  return roles;
}

/**
 * Invites an address: a new user with the roles given (or the configured ones), no password
 * and an unconfirmed address, and a mailed link to choose a password; the link works for 7
 * days unless the config shortens it. Inviting someone who never chose a password again (an
 * earlier invitation, or a user imported from Identity who never signed in) mails a new link
 * and retires the old one; anyone with a password is `user_exists`. Limited like every mail,
 * per address and per inviter.
 *
 * @example
 * const { user } = await inviteUser(deps, { fields: { email: 'ada@example.com', roles: ['editor'] }, inviterId });
 */
export async function inviteUser(deps: AuthDeps, request: InviteRequest): Promise<InviteOutcome> {
  const accounts = deps.accounts ?? DEFAULT_ACCOUNT_SETTINGS;
  const email = requestedAddress(request.fields);
  const roles = requestedRoles(request.fields.roles, accounts.newUserRoles);
  const token = newEmailToken();
  const result = await deps.store.inviteUser({
    email,
    roles,
    tokenHash: emailTokenHash(token),
    ttlSeconds: linkLifetime(accounts, 'invite'),
    sealed: sealedLink(deps, token, 'invite'),
    throttle: mailThrottle(deps, email, request.inviterId === undefined ? undefined : `inviter:${request.inviterId}`),
    invitedBy: request.inviterId,
    inviterSessionId: request.inviterSessionId,
    ip: request.ip,
  });
  if (result.status === 'throttled') throw mailThrottled(result.retryAfterSeconds);
  // The admin was disabled or signed out since their access token was issued.
  if (result.status === 'not_live') throw new AuthError('session_expired');
  if (result.status === 'exists') throw new AuthError('user_exists', { message: 'That address already has an account with a password (or a disabled one); nothing was sent.' });
  await deps.kickMail?.();
  return { status: result.status, user: result.user };
}
