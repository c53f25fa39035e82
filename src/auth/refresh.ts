import { AuthError } from '../core/auth-errors.js';
import { looksLikeRefreshToken, refreshTokenHash, successorRefreshToken } from '../core/refresh-token.js';
import { readRefreshToken } from '../http/cookies.js';
import type { User } from '../store/store.js';
import type { AuthDeps } from './deps.js';
import { issueSession } from './issue.js';

export interface RefreshResult {
  user: User;
  sessionId: string;
  expiresAt: number;
  cookies: string[];
}

/**
 * Rotates the refresh token from the cookies and issues a new access token,
 * re-reading the user so that role changes, disabling and revoke-sessions
 * take effect now. Throws `session_expired` when there is no usable session
 * and `refresh_token_reused` when an already-rotated token came back after
 * the grace interval (the store has then already revoked the session).
 */
export async function refresh(deps: AuthDeps, cookies: Record<string, string>): Promise<RefreshResult> {
  const { config } = deps;
  const token = readRefreshToken(cookies, { domain: config.cookieDomain });
  if (!token || !looksLikeRefreshToken(token)) throw new AuthError('session_expired');
  const successor = successorRefreshToken(token, config.jwtSecret);
  const result = await deps.store.rotateRefreshToken({
    tokenHash: refreshTokenHash(token),
    successorHash: refreshTokenHash(successor),
    refreshTtlSeconds: config.refreshTokenTtlSeconds,
    graceSeconds: config.refreshGraceSeconds,
  });
  switch (result.status) {
    case 'rotated': {
      const issued = await issueSession(deps, result.user, result.sessionId, successor);
      return { user: result.user, sessionId: result.sessionId, expiresAt: issued.expiresAt, cookies: issued.cookies };
    }
    case 'reused':
      throw new AuthError('refresh_token_reused');
    default:
      throw new AuthError('session_expired');
  }
}
