import { AuthError } from '../core/auth-errors.js';
import { looksLikeRefreshToken, refreshTokenHash, successorRefreshToken } from '../core/refresh-token.js';
import { verifyAccessTokenSync } from '../core/access-token-node.js';
import { verificationSecrets } from '../core/environment.js';
import { fingerprintHash } from '../core/fingerprint.js';
import { nodeCrypto } from '../core/node-crypto.js';
import { ACCESS_COOKIE, fingerprintCookieName, readRefreshToken } from '../http/cookies.js';
import type { User } from '../store/store.js';
import type { AuthDeps } from './deps.js';
import { withIdentityRoles } from './identity-roles.js';
import { issueSession } from './issue.js';

export interface RefreshResult {
  user: User;
  sessionId: string;
  expiresAt: number;
  cookies: string[];
  /** The tokens the cookies carry (see LoginResult). */
  tokens: { access: string; refresh: string };
}

/** What the refreshing request says about who sends it; the handlers pass its User-Agent. */
export interface RefreshClient {
  userAgent?: string;
}

/**
 * Who presents a refresh token, for the grace interval's same-client rule:
 * the fingerprint cookie when TOKEN_FINGERPRINT is on (a secret of this
 * browser), otherwise the User-Agent (tabs of one browser share it). Hashed,
 * so the token table holds neither. Undefined when the caller cannot tell.
 */
function clientKey(fingerprint: string | undefined, client: RefreshClient | undefined): string | undefined {
  const identity = fingerprint !== undefined ? `fingerprint\n${fingerprint}` : client ? `user-agent\n${client.userAgent ?? ''}` : undefined;
  return identity === undefined ? undefined : nodeCrypto().createHash('sha256').update(`rolegate grace client v1\n${identity}`).digest('hex');
}

/**
 * Rotates the refresh token from the cookies and issues a new access token,
 * re-reading the user so that role changes, disabling and revoke-sessions
 * take effect now. Throws `session_expired` when there is no usable session
 * and `refresh_token_reused` when an already-rotated token came back after
 * the grace interval, or within it from another client or after its
 * successor was rotated too (the store has then already revoked the session).
 */
export async function refresh(deps: AuthDeps, cookies: Record<string, string>, client?: RefreshClient): Promise<RefreshResult> {
  const token = readRefreshToken(cookies, { domain: deps.config.cookieDomain });
  if (!token || !looksLikeRefreshToken(token)) throw new AuthError('session_expired');
  const fingerprint = deps.config.tokenFingerprint ? await checkFingerprint(deps, cookies) : undefined;
  return rotateSession(deps, token, fingerprint, client);
}

/**
 * The rotation itself, for a refresh token however it came (the cookie above, or the body of
 * the Identity API's `grant_type=refresh_token`): the same family, the same reuse detection.
 */
export async function rotateSession(deps: AuthDeps, token: unknown, fingerprint: string | undefined, client?: RefreshClient): Promise<RefreshResult> {
  const { config } = deps;
  if (typeof token !== 'string' || !looksLikeRefreshToken(token)) throw new AuthError('session_expired');
  const successor = successorRefreshToken(token, config.jwtSecret);
  const result = await deps.store.rotateRefreshToken({
    tokenHash: refreshTokenHash(token),
    successorHash: refreshTokenHash(successor),
    refreshTtlSeconds: config.refreshTokenTtlSeconds,
    graceSeconds: config.refreshGraceSeconds,
    client: clientKey(fingerprint, client),
  });
  switch (result.status) {
    case 'rotated': {
      const user = await withIdentityRoles(deps, result.user);
      const issued = await issueSession(deps, user, result.sessionId, successor, fingerprint);
      return { user, sessionId: result.sessionId, expiresAt: issued.expiresAt, cookies: issued.cookies, tokens: { access: issued.accessToken, refresh: successor } };
    }
    case 'reused':
      throw new AuthError('refresh_token_reused');
    default:
      throw new AuthError('session_expired');
  }
}

/**
 * With fingerprinting on, a refresh needs the fingerprint cookie, and when the
 * request still carries an access token (expired or not) signed by us, that
 * token's fingerprint must be this cookie's. Checked before rotating, so a
 * refused request changes nothing.
 */
async function checkFingerprint(deps: AuthDeps, cookies: Record<string, string>): Promise<string> {
  const { config } = deps;
  const fingerprint = cookies[fingerprintCookieName({ domain: config.cookieDomain })];
  if (!fingerprint) throw new AuthError('session_expired');
  const access = cookies[ACCESS_COOKIE];
  if (access) {
    let claims: ReturnType<typeof verifyAccessTokenSync> | undefined;
    try {
      claims = verifyAccessTokenSync(access, { secrets: verificationSecrets(config), issuer: config.jwtIssuer, now: deps.now(), allowExpired: true });
    } catch {
      claims = undefined;
    }
    if (claims?.fph !== undefined && claims.fph !== fingerprintHash(fingerprint)) throw new AuthError('session_expired');
  }
  return fingerprint;
}
