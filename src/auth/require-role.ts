import type { HandlerEvent, HandlerResponse } from '@netlify/functions';
import { AccessTokenError, rolesAtClaimPath, nowSeconds, type AccessTokenClaims } from '../core/access-token-claims.js';
import { verifyAccessTokenSync } from '../core/access-token-node.js';
import { AuthError } from '../core/auth-errors.js';
import { readConfig, verificationSecrets, type AuthConfig } from '../core/environment.js';
import { fingerprintMatches } from '../core/fingerprint.js';
import { ACCESS_COOKIE, fingerprintCookieName } from '../http/cookies.js';
import { cookiesOf, header } from '../http/request.js';
import { errorResponse } from '../http/respond.js';

export interface AuthenticatedUser {
  id: string;
  email: string;
  roles: string[];
  sessionId: string;
  claims: AccessTokenClaims;
}

export type RequireRoleResult = { ok: true; user: AuthenticatedUser } | { ok: false; response: HandlerResponse };

export interface RequireRoleOptions {
  /** Any one of these passes; none (the default): any signed-in user. */
  roles?: readonly string[];
  /** Defaults to the environment, read once. */
  config?: AuthConfig;
  /** Seconds since the epoch; for tests. */
  now?: number;
}

let envConfig: AuthConfig | undefined;

function tokenOf(event: HandlerEvent, cookies: Record<string, string>): string | undefined {
  const authorization = header(event, 'authorization');
  if (authorization) {
    const match = /^Bearer\s+(\S+)$/iu.exec(authorization);
    return match?.[1];
  }
  return cookies[ACCESS_COOKIE];
}

/**
 * For the site's own functions: verifies the access token from the `nf_jwt`
 * cookie or an `Authorization: Bearer` header exactly as rolegate does
 * (HS256 only, typ JWT, issuer, expiry, size cap, current or previous secret)
 * and checks that it carries any one of `roles` (none: any signed-in user).
 *
 * @example
 * const auth = await requireRole(event, { roles: ['admin'] });
 * if (!auth.ok) return auth.response; // ready 401 or 403
 */
export async function requireRole(event: HandlerEvent, options: RequireRoleOptions = {}): Promise<RequireRoleResult> {
  const config = options.config ?? (envConfig ??= readConfig(process.env).auth);
  const cookies = cookiesOf(event);
  const checked = checkAccessToken(tokenOf(event, cookies), cookies[fingerprintCookieName({ domain: config.cookieDomain })], { ...options, config });
  if (typeof checked === 'string') return { ok: false, response: errorResponse(new AuthError(checked)) };
  return { ok: true, user: checked };
}

/**
 * requireRole's check of one token, for a caller that finds the token itself (the Identity
 * API reads a bearer header only): the user, or the code of the refusal.
 */
export function checkAccessToken(token: string | undefined, fingerprint: string | undefined, options: RequireRoleOptions & { config: AuthConfig }): AuthenticatedUser | 'unauthenticated' | 'session_expired' | 'forbidden' {
  const roles = options.roles ?? [];
  const { config } = options;
  if (!token) return 'unauthenticated';
  let claims: AccessTokenClaims;
  try {
    claims = verifyAccessTokenSync(token, { secrets: verificationSecrets(config), issuer: config.jwtIssuer, now: options.now ?? nowSeconds() });
  } catch (error) {
    return error instanceof AccessTokenError && error.code === 'token_expired' ? 'session_expired' : 'unauthenticated';
  }
  if (!fingerprintMatches(config.tokenFingerprint, fingerprint, claims)) return 'unauthenticated';
  const held = rolesAtClaimPath(claims);
  if (roles.length && !roles.some((role) => held.includes(role))) return 'forbidden';
  return { id: claims.sub, email: claims.email, roles: held, sessionId: claims.sid, claims };
}
