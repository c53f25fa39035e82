import { verifyAccessTokenSync } from '../core/access-token-node.js';
import { AuthError } from '../core/auth-errors.js';
import { verificationSecrets } from '../core/environment.js';
import { fingerprintMatches } from '../core/fingerprint.js';
import { looksLikeRefreshToken, refreshTokenHash } from '../core/refresh-token.js';
import { ACCESS_COOKIE, fingerprintCookieName, readRefreshToken } from '../http/cookies.js';
import type { AuthDeps } from './deps.js';
import { refresh } from './refresh.js';

export type LogoutScope = 'local' | 'global';

/** The access token's claims when it is valid now; with `bound`, also tied to this browser's fingerprint when that is on. */
function validAccessClaims(deps: AuthDeps, cookies: Record<string, string>, bound: boolean): ReturnType<typeof verifyAccessTokenSync> | undefined {
  const { config } = deps;
  if (!cookies[ACCESS_COOKIE]) return undefined;
  try {
    const claims = verifyAccessTokenSync(cookies[ACCESS_COOKIE], { secrets: verificationSecrets(config), issuer: config.jwtIssuer, now: deps.now() });
    const fingerprint = cookies[fingerprintCookieName({ domain: config.cookieDomain })];
    return fingerprintMatches(bound && config.tokenFingerprint, fingerprint, claims) ? claims : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Ends every session of the user whose live session the cookies prove: the
 * access token's `sid` first, else the session a refresh token still
 * refreshes. The store checks the session is live in the same statement that
 * ends them all, so a signed-out session's still-unexpired nf_jwt proves nothing.
 */
async function endEverywhere(deps: AuthDeps, cookies: Record<string, string>): Promise<{ userId: string; sessionId: string } | undefined> {
  const claims = validAccessClaims(deps, cookies, true);
  if (claims) {
    const ended = await deps.store.revokeSessionsEverywhere({ sessionId: claims.sid, userId: claims.sub });
    if (ended.status === 'revoked') return { userId: claims.sub, sessionId: claims.sid };
  }
  let refreshed: Awaited<ReturnType<typeof refresh>>;
  try {
    refreshed = await refresh(deps, cookies);
  } catch (error) {
    if (!(error instanceof AuthError)) throw error;
    return undefined;
  }
  const ended = await deps.store.revokeSessionsEverywhere({ sessionId: refreshed.sessionId, userId: refreshed.user.id });
  return ended.status === 'revoked' ? { userId: refreshed.user.id, sessionId: refreshed.sessionId } : undefined;
}

/**
 * Ends the current session (`local`) or every session of its user (`global`,
 * "sign out everywhere"). Locally, the session is found from the refresh
 * cookie, or failing that from a valid access token's `sid`; without any
 * session it does nothing: logging out is always allowed to succeed.
 *
 * Everywhere ends sessions the caller does not hold, so it takes a credential
 * that still works: a valid access token of a session that is still live, or
 * a refresh token that still refreshes (checked by refreshing it, fingerprint
 * and all). A used, revoked or expired copy of a token would otherwise let
 * whoever kept it sign its owner out of every device, again after every
 * sign-in; and answering "ok" without ending anything would tell a worried
 * user their other sessions are gone. Without such a credential it throws `session_expired`: sign in again.
 */
export async function logout(deps: AuthDeps, cookies: Record<string, string>, scope: LogoutScope, ip?: string): Promise<{ ended: boolean }> {
  const { config, store } = deps;
  if (scope === 'global') {
    const proven = await endEverywhere(deps, cookies);
    if (!proven) throw new AuthError('session_expired');
    await store.audit({ event: 'logout_everywhere', userId: proven.userId, sessionId: proven.sessionId, ip });
    return { ended: true };
  }
  const token = readRefreshToken(cookies, { domain: config.cookieDomain });
  let revoked = token && looksLikeRefreshToken(token)
    ? await store.revokeSession({ refreshTokenHash: refreshTokenHash(token), reason: 'logout' })
    : ({ status: 'not_found' } as const);
  if (revoked.status === 'not_found') {
    const claims = validAccessClaims(deps, cookies, false);
    if (claims) revoked = await store.revokeSession({ sessionId: claims.sid, reason: 'logout' });
  }
  if (revoked.status === 'not_found') return { ended: false };
  await store.audit({ event: 'logout', userId: revoked.userId, sessionId: revoked.sessionId, ip });
  return { ended: true };
}
