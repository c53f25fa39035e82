import type { User } from '../store/store.js';
import type { AuthDeps } from './deps.js';

/**
 * With ROLES_FROM_IDENTITY=on, a user also holds the roles that Netlify
 * Identity gives the same address (the mirror, rolegate.identity_users), so
 * a site moving off Identity keeps its role assignments while it moves. The
 * roles are added, never removed, and read again at every login and refresh,
 * so a role taken away in Identity is gone from the next access token.
 */
export async function withIdentityRoles(deps: AuthDeps, user: User): Promise<User> {
  if (!deps.config.rolesFromIdentity) return user;
  const mirrored = await deps.store.findIdentityUser({ email: user.email });
  if (!mirrored) return user;
  const added = mirrored.roles.filter((role) => !user.roles.includes(role));
  return added.length === 0 ? user : { ...user, roles: [...user.roles, ...added] };
}
