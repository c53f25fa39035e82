import { verifyAccessTokenSync } from '../core/access-token-node.js';
import { looksLikeRefreshToken, refreshTokenHash } from '../core/refresh-token.js';
import { ACCESS_COOKIE, readRefreshToken } from '../http/cookies.js';
import type { AuthDeps } from './deps.js';

export type LogoutScope = 'local' | 'global';

/**
 * Ends the current session (`local`) or every session of its user (`global`,
 * "sign out everywhere"). The session is found from the refresh cookie, or
 * failing that from a valid access token's `sid`. Without any session it
 * does nothing: logging out is always allowed to succeed.
 */
export async function logout(deps: AuthDeps, cookies: Record<string, string>, scope: LogoutScope, ip?: string): Promise<{ ended: boolean }> {
  const { config, store } = deps;
  const token = readRefreshToken(cookies, { domain: config.cookieDomain });
  let revoked = token && looksLikeRefreshToken(token)
    ? await store.revokeSession({ refreshTokenHash: refreshTokenHash(token), reason: 'logout' })
    : ({ status: 'not_found' } as const);
  if (revoked.status === 'not_found' && cookies[ACCESS_COOKIE]) {
    const secrets = [config.jwtSecret, ...(config.jwtSecretPrevious ? [config.jwtSecretPrevious] : [])];
    let claims: ReturnType<typeof verifyAccessTokenSync> | undefined;
    try {
      claims = verifyAccessTokenSync(cookies[ACCESS_COOKIE], { secrets, issuer: config.jwtIssuer, now: deps.now() });
    } catch {
      claims = undefined;
    }
    if (claims) revoked = await store.revokeSession({ sessionId: claims.sid, reason: 'logout' });
  }
  if (revoked.status === 'not_found') return { ended: false };
  if (scope === 'global') await store.revokeUserSessions(revoked.userId, 'logout_everywhere');
  await store.audit({ event: scope === 'global' ? 'logout_everywhere' : 'logout', userId: revoked.userId, sessionId: revoked.sessionId, ip });
  return { ended: true };
}
