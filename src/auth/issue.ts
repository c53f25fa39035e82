import { signAccessToken } from '../core/access-token-node.js';
import { fingerprintHash, newFingerprint } from '../core/fingerprint.js';
import { sessionCookies } from '../http/cookies.js';
import type { User } from '../store/store.js';
import { cookiePolicy, type AuthDeps } from './deps.js';

export interface IssuedSession {
  accessToken: string;
  expiresAt: number;
  cookies: string[];
}

/**
 * Signs a fresh access token for `user` in `sessionId` and the cookies that
 * carry it and the refresh token. With fingerprinting on, the token is bound
 * to `fingerprint` (kept across refreshes) or to a new one.
 */
export async function issueSession(deps: AuthDeps, user: User, sessionId: string, refreshToken: string, fingerprint?: string): Promise<IssuedSession> {
  const { config } = deps;
  const boundTo = config.tokenFingerprint ? (fingerprint ?? newFingerprint()) : undefined;
  const { token, expiresAt } = signAccessToken({
    subject: { id: user.id, email: user.email, roles: user.roles, userMetadata: user.userMetadata },
    sessionId,
    secret: config.jwtSecret,
    issuer: config.jwtIssuer,
    ttlSeconds: config.accessTokenTtlSeconds,
    now: deps.now(),
    ...(boundTo ? { fingerprintHash: fingerprintHash(boundTo) } : {}),
  });
  const cookies = sessionCookies(cookiePolicy(deps), {
    accessToken: token,
    refreshToken,
    session: { email: user.email, roles: user.roles, exp: expiresAt },
    fingerprint: boundTo,
  });
  return { accessToken: token, expiresAt, cookies };
}
