import { normalizeEmail } from '../core/email.js';
import { bcryptHasher } from '../core/password.js';
import { roleNameProblem } from '../core/role-name.js';
import type { UserWithPasswordHash } from '../store/store.js';
import type { AuthDeps } from './deps.js';

/**
 * Leaving Netlify Identity without a password reset: a login for an address rolegate does not
 * know is checked against Identity (IDENTITY_URL), and when Identity accepts the password the
 * user is created here with a bcrypt hash of it and the roles Identity holds
 * (`app_metadata.roles`, those a gate can require), so the next login is local. Local users are
 * never checked there. Returns the local user to sign in, or null.
 */
export async function userMovedFromIdentity(deps: AuthDeps, email: string, password: string, startedMs: number): Promise<UserWithPasswordHash | null> {
  if (!deps.identityPasswords) return null;
  const remainingMs = deps.config.identityLoginBudgetMs - (Date.now() - startedMs);
  if (remainingMs <= 0) return null;
  const identityUser = await deps.identityPasswords(email, password, AbortSignal.timeout(remainingMs));
  // Identity's account for another address (it normalises differently) is not this one.
  if (!identityUser || normalizeEmail(identityUser.email) !== email) return null;
  const roles = identityUser.roles.filter((role) => roleNameProblem(role) === null);
  const passwordHash = await (deps.passwords ?? bcryptHasher).hash(password, deps.config.bcryptCost);
  const created = await deps.store.createUser({ email, passwordHash, roles, appMetadata: { moved_from_identity: identityUser.id } });
  if (created.status === 'created') {
    await deps.store.audit({ event: 'user_moved_from_identity', userId: created.user.id, detail: { identity_id: identityUser.id, roles } });
  }
  // Created by a parallel login in the meantime: that one's hash decides, like any local login.
  return deps.store.findUserForLogin(email);
}

/** Waits until `budgetMs` have passed since `startedMs`: every failed login takes as long, whoever holds the address. */
export async function untilBudget(startedMs: number, budgetMs: number): Promise<void> {
  const waitMs = budgetMs - (Date.now() - startedMs);
  if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
}
