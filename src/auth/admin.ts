import { AuthError } from '../core/auth-errors.js';
import { DEFAULT_ACCOUNT_SETTINGS } from '../site-config/account-settings.js';
import type { AdminActor, AdminUser, AdminUserDetail, AuditRecord, Store, User } from '../store/store.js';
import type { AuthDeps } from './deps.js';
import { requestedRoles } from './invite.js';

/**
 * What an admin does to users, from the admin page's API or the `rolegate users` CLI: both call
 * these, so they cannot disagree. `actor.by` is the signed-in admin (none at the terminal); it
 * goes into every audit row, and an admin cannot lock themselves out here.
 */
type AdminDeps = Pick<AuthDeps, 'store' | 'accounts'>;

const NO_SUCH_USER = 'There is no such user.';
const MAX_PER_PAGE = 100;
const MAX_QUERY = 320;

/**
 * The signed-in caller as an admin: their session still live and one of `admin.roles` held
 * now, in the database (an access token's roles may be up to its lifetime old).
 */
export async function liveAdmin(deps: AdminDeps, caller: { id: string; sessionId: string }, ip?: string): Promise<AdminActor> {
  if (!(await deps.store.sessionIsLive({ userId: caller.id, sessionId: caller.sessionId }))) throw new AuthError('session_expired');
  const user = await deps.store.findUserById(caller.id);
  if (!user || !holdsAdminRole(deps, user.roles)) throw new AuthError('forbidden');
  return { by: caller.id, ip };
}

function holdsAdminRole(deps: AdminDeps, roles: readonly string[]): boolean {
  return (deps.accounts ?? DEFAULT_ACCOUNT_SETTINGS).admin.roles.some((role) => roles.includes(role));
}

function refuseOwnAccount(actor: AdminActor, userId: string): void {
  if (actor.by !== undefined && actor.by.toLowerCase() === userId.toLowerCase()) throw new AuthError('own_account');
}

/** A whole number from 1 in a query parameter; `fallback` when absent. */
function pageNumber(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  if (!/^\d{1,6}$/u.test(value) || Number(value) < 1) throw new AuthError('bad_request', { message: `Send ${name} as a whole number from 1.` });
  return Number(value);
}

export interface UserPage {
  total: number;
  page: number;
  perPage: number;
  users: AdminUser[];
}

/** Users whose address contains `q` (any case), or who hold `role`, by address, `per_page` (at most 100) a page from `page` 1. */
export async function findUsers(deps: AdminDeps, query: { q?: string; role?: string; page?: string; per_page?: string }): Promise<UserPage> {
  const q = query.q ?? '';
  if (q.length > MAX_QUERY) throw new AuthError('bad_request', { message: `Search with at most ${MAX_QUERY} characters.` });
  // PostgreSQL text cannot hold U+0000 (the query would fail, a 500), and no address has one.
  if (q.includes('\u0000')) throw new AuthError('bad_request', { message: 'Search without NUL characters: no address has one.' });
  const role = query.role === undefined || query.role === '' ? undefined : requestedRoles([query.role], [])[0];
  const perPage = Math.min(pageNumber(query.per_page, 50, 'per_page'), MAX_PER_PAGE);
  const page = pageNumber(query.page, 1, 'page');
  const found = await deps.store.searchUsers({ query: q, role, limit: perPage, offset: (page - 1) * perPage });
  return { total: found.total, page, perPage, users: found.users };
}

export async function userDetail(deps: AdminDeps, userId: string): Promise<AdminUserDetail> {
  const detail = await deps.store.adminUserDetail(userId);
  if (!detail) throw new AuthError('not_found', { message: NO_SUCH_USER });
  return detail;
}

/** Sets a user's roles (the list, or one comma-separated field); in effect at their next refresh. */
export async function setRoles(deps: AdminDeps, actor: AdminActor, userId: string, value: unknown): Promise<User> {
  if (value === undefined) throw new AuthError('bad_request', { message: 'Send roles: the full list the user is to hold ([] for none).' });
  const roles = requestedRoles(value, []);
  if (actor.by !== undefined && actor.by.toLowerCase() === userId.toLowerCase() && !holdsAdminRole(deps, roles)) throw new AuthError('own_account');
  const result = await deps.store.setUserRoles(userId, roles, actor);
  if (result.status === 'not_found') throw new AuthError('not_found', { message: NO_SUCH_USER });
  return result.user;
}

/** Disables a user (every session of theirs ends at once, in the same SQL function) or enables them again. */
export async function setDisabled(deps: AdminDeps, actor: AdminActor, userId: string, disabled: boolean): Promise<User> {
  if (disabled) refuseOwnAccount(actor, userId);
  const result = await deps.store.setUserDisabled(userId, disabled, actor);
  if (result.status === 'not_found') throw new AuthError('not_found', { message: NO_SUCH_USER });
  return result.user;
}

/** Ends every session of a user: no refresh token issued before now works (access tokens run out within their lifetime). */
export async function endSessions(deps: AdminDeps, actor: AdminActor, userId: string): Promise<number> {
  const result = await deps.store.revokeUserSessions(userId, 'revoked_by_admin', actor);
  if (result.status === 'not_found') throw new AuthError('not_found', { message: NO_SUCH_USER });
  return result.sessions;
}

/** Deletes a user with their sessions, tokens, identities and waiting mail; the audit log keeps the event, without the address. */
export async function deleteUser(deps: AdminDeps, actor: AdminActor, userId: string): Promise<void> {
  refuseOwnAccount(actor, userId);
  const result = await deps.store.deleteUser({ userId, by: actor.by, ip: actor.ip });
  if (result.status === 'not_found') throw new AuthError('not_found', { message: NO_SUCH_USER });
}

/** The audit log newest first, everyone's or one user's, `limit` (at most 100) entries before the id `before`. */
export async function readAudit(deps: { store: Store }, query: { user?: string; before?: string; limit?: string }): Promise<AuditRecord[]> {
  const limit = Math.min(pageNumber(query.limit, 50, 'limit'), MAX_PER_PAGE);
  const before = query.before === undefined || query.before === '' ? undefined : pageNumber(query.before, 0, 'before');
  return deps.store.listAudit({ userId: query.user === '' ? undefined : query.user, before, limit });
}
