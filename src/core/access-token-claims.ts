import type { JWTPayload } from 'jose';
import type { Secret } from './secret.js';
import { RolegateError } from './rolegate-error.js';

/**
 * What every implementation of rolegate's access tokens shares: the claims,
 * the options, the error, and the rules that are not cryptography. Kept free
 * of jose and of node:crypto so that both the Web path (access-token.ts) and
 * the Node fast path (access-token-node.ts) import it without pulling in the
 * other's dependencies.
 */

/** Where Netlify's edge looks for roles unless the site says otherwise (`jwtRolePath`). */
export const DEFAULT_ROLE_CLAIM_PATH = 'app_metadata.authorization.roles';

/** Tokens larger than this are refused before any parsing: a cookie cannot carry more anyway. */
export const MAX_ACCESS_TOKEN_BYTES = 4096;

export interface AccessTokenSubject {
  id: string;
  email: string;
  roles: readonly string[];
  userMetadata?: Record<string, unknown>;
}

export interface SignAccessTokenOptions {
  subject: AccessTokenSubject;
  sessionId: string;
  secret: Secret;
  issuer: string;
  ttlSeconds: number;
  /** Seconds since the epoch; injected so tests need no clock tricks. */
  now: number;
  /** SHA-256 (hex) of the fingerprint cookie, when token sidejacking protection is on. */
  fingerprintHash?: string;
}

export interface AccessTokenClaims extends JWTPayload {
  sub: string;
  email: string;
  sid: string;
  iat: number;
  exp: number;
  /** `authorization.roles` for Netlify's gate; `roles` too, where Identity's clients (widget, gotrue-js, Decap) read them. */
  app_metadata: { authorization: { roles: string[] }; roles: string[] };
  user_metadata: Record<string, unknown>;
  fph?: string;
}

export type AccessTokenErrorCode = 'token_missing' | 'token_expired' | 'token_invalid';

/** Why a token was refused. `code` is stable; the cause stays internal. */
export class AccessTokenError extends RolegateError {
  constructor(readonly code: AccessTokenErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AccessTokenError';
  }
}

export interface VerifyAccessTokenOptions {
  /** Current secret first, then the previous one during a rotation. */
  secrets: readonly Secret[];
  issuer: string;
  now: number;
  /** Accept a token whose only fault is its age (used to read the fingerprint claim of an expired token at refresh). */
  allowExpired?: boolean;
}

/** The protected header of every token rolegate signs; Netlify's matcher ignores tokens without `typ`. */
export const ACCESS_TOKEN_HEADER = { alg: 'HS256', typ: 'JWT' } as const;

/**
 * The claims of a new token, in the order jose's SignJWT writes them (payload,
 * then sub, iss, iat, exp), so both signers produce the same bytes.
 */
export function accessTokenClaims(options: SignAccessTokenOptions): AccessTokenClaims {
  const { subject, now } = options;
  const claims: Record<string, unknown> = {
    email: subject.email,
    sid: options.sessionId,
    app_metadata: { authorization: { roles: [...subject.roles] }, roles: [...subject.roles] },
    user_metadata: subject.userMetadata ?? {},
  };
  if (options.fingerprintHash) claims.fph = options.fingerprintHash;
  claims.sub = subject.id;
  claims.iss = options.issuer;
  claims.iat = now;
  claims.exp = now + options.ttlSeconds;
  return claims as AccessTokenClaims;
}

export function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/** The claim types rolegate relies on beyond what the JWT rules check; false means refuse the token. */
export function hasRolegateClaimTypes(payload: Record<string, unknown>): boolean {
  const roles = (payload.app_metadata as { authorization?: { roles?: unknown } } | undefined)?.authorization?.roles;
  return typeof payload.sub === 'string' && typeof payload.sid === 'string' && typeof payload.email === 'string' && isStringArray(roles);
}

/** Reads a dotted claim path (e.g. `app_metadata.authorization.roles`) and returns the roles there, or []. */
export function rolesAtClaimPath(claims: Record<string, unknown>, path = DEFAULT_ROLE_CLAIM_PATH): string[] {
  let value: unknown = claims;
  for (const part of path.split('.')) {
    if (!value || typeof value !== 'object') return [];
    value = (value as Record<string, unknown>)[part];
  }
  return isStringArray(value) ? value : [];
}

/** Whole seconds since the epoch. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
