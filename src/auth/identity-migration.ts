import { normalizeEmail } from '../core/email.js';
import type { IdentityUser } from '../core/identity-user.js';
import { bcryptHasher } from '../core/password.js';
import { roleNameProblem } from '../core/role-name.js';
import { MOVED_FROM_IDENTITY } from '../core/user-import.js';
import type { UserWithPasswordHash } from '../store/store.js';
import type { IdentityPasswordCheck } from '../sync/gotrue-password.js';
import type { AuthDeps } from './deps.js';

/**
 * Leaving Netlify Identity without a password reset: a login for an address rolegate does not
 * know, or for a user imported from the Identity mirror who has no password here yet, is
 * checked against Identity (IDENTITY_URL). When Identity accepts the password, the user gets a
 * bcrypt hash of it here (created with Identity's id and the roles it holds in
 * `app_metadata.roles` that a gate can require, or, when imported, keeping the imported
 * roles), so the next login is local. Other local users are never checked there.
 */
export function checksIdentity(deps: AuthDeps, local: UserWithPasswordHash | null): boolean {
  if (!deps.identityPasswords) return false;
  return local === null || (local.passwordHash === null && !local.disabledAt && typeof local.appMetadata[MOVED_FROM_IDENTITY] === 'string');
}

/**
 * How long Identity gets: until half of IDENTITY_LOGIN_BUDGET_MS has passed since the login
 * started. The other half is for what a failure still does after it (the even bcrypt check,
 * counting the failure), so a hung Identity ends in the same budget as any other failure.
 */
function identityDeadlineMs(startedMs: number, budgetMs: number): number {
  return startedMs + Math.floor(budgetMs / 2);
}

/**
 * Asks Identity, giving up at `deadlineMs`: the signal aborts its requests then, and the answer
 * is null then even from a check that ignores the signal.
 */
async function askIdentityUntil(check: IdentityPasswordCheck, email: string, password: string, deadlineMs: number): Promise<IdentityUser | null> {
  const waitMs = deadlineMs - Date.now();
  if (waitMs <= 0) return null;
  const signal = AbortSignal.timeout(waitMs);
  const givenUp = new Promise<null>((resolve) => signal.addEventListener('abort', () => resolve(null), { once: true }));
  return Promise.race([check(email, password, signal), givenUp]);
}

/** The local user to sign in after asking Identity (see checksIdentity), or `local` as it was. */
export async function userMovedFromIdentity(deps: AuthDeps, email: string, password: string, startedMs: number, local: UserWithPasswordHash | null): Promise<UserWithPasswordHash | null> {
  if (!deps.identityPasswords) return local;
  const identityUser = await askIdentityUntil(deps.identityPasswords, email, password, identityDeadlineMs(startedMs, deps.config.identityLoginBudgetMs));
  // Identity's account for another address, or another account than the one imported, is not this one.
  if (!identityUser || normalizeEmail(identityUser.email) !== email) return local;
  if (local && identityUser.id !== local.appMetadata[MOVED_FROM_IDENTITY]) return local;
  const passwordHash = await (deps.passwords ?? bcryptHasher).hash(password, deps.config.bcryptCost);
  if (local) {
    // Only while it has no password: a parallel first login or a password set meanwhile is kept.
    const set = await deps.store.setFirstPassword({ userId: local.id, passwordHash });
    if (set.status === 'updated') {
      await deps.store.audit({ event: 'user_moved_from_identity', userId: local.id, detail: { identity_id: identityUser.id, imported: true } });
    }
  } else {
    const roles = identityUser.roles.filter((role) => roleNameProblem(role) === null);
    const created = await deps.store.createUser({ id: identityUser.id, email, passwordHash, roles, appMetadata: { [MOVED_FROM_IDENTITY]: identityUser.id } });
    if (created.status === 'created') {
      await deps.store.audit({ event: 'user_moved_from_identity', userId: created.user.id, detail: { identity_id: identityUser.id, roles } });
    }
  }
  // Moved by a parallel login, or given a password, in the meantime: that hash decides, like any local login.
  return deps.store.findUserForLogin(email);
}

/** Waits until `budgetMs` have passed since `startedMs`: every failed login takes as long, whoever holds the address. */
export async function untilBudget(startedMs: number, budgetMs: number): Promise<void> {
  const waitMs = budgetMs - (Date.now() - startedMs);
  if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
}
