import { SignJWT, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';
import type { Secret } from './secret.js';

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
  app_metadata: { authorization: { roles: string[] } };
  user_metadata: Record<string, unknown>;
  fph?: string;
}

/**
 * Signs the access token in exactly the form Netlify's role-based redirects
 * read: HS256 with header `{"alg":"HS256","typ":"JWT"}` (the matcher ignores
 * tokens without `typ`), an `exp`, and the roles at
 * `app_metadata.authorization.roles`.
 *
 * @example
 * const { token, expiresAt } = await signAccessToken({ subject, sessionId, secret, issuer: 'rolegate', ttlSeconds: 900, now: nowSeconds() });
 */
export async function signAccessToken(options: SignAccessTokenOptions): Promise<{ token: string; expiresAt: number }> {
  const { subject, now } = options;
  const expiresAt = now + options.ttlSeconds;
  const payload: Omit<AccessTokenClaims, 'iss' | 'iat' | 'exp' | 'sub'> = {
    email: subject.email,
    sid: options.sessionId,
    app_metadata: { authorization: { roles: [...subject.roles] } },
    user_metadata: subject.userMetadata ?? {},
  };
  if (options.fingerprintHash) payload.fph = options.fingerprintHash;
  const token = await new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(subject.id)
    .setIssuer(options.issuer)
    .setIssuedAt(now)
    .setExpirationTime(expiresAt)
    .sign(await hmacKey(options.secret));
  return { token, expiresAt };
}

// jose re-imports a raw key on every call; importing each secret once halves
// the cost of a verification (bench/verify.ts).
const importedKeys = new WeakMap<Secret, Promise<CryptoKey>>();
function hmacKey(secret: Secret): Promise<CryptoKey> {
  let key = importedKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey('raw', secret.bytes(), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    importedKeys.set(secret, key);
  }
  return key;
}

export type AccessTokenErrorCode = 'token_missing' | 'token_expired' | 'token_invalid';

/** Why a token was refused. `code` is stable; the cause stays internal. */
export class AccessTokenError extends Error {
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

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/**
 * Verifies an access token: HS256 only (so `alg:none` and RS/HS confusion
 * fail), header `typ` must be `JWT`, signature by one of the secrets, `iss`,
 * `exp`/`nbf` against `now`, the claim types rolegate relies on, and a size cap.
 *
 * @example
 * const claims = await verifyAccessToken(token, { secrets: [secret], issuer: 'rolegate', now: nowSeconds() });
 */
export async function verifyAccessToken(token: string, options: VerifyAccessTokenOptions): Promise<AccessTokenClaims> {
  if (!token) throw new AccessTokenError('token_missing', 'no access token');
  if (token.length > MAX_ACCESS_TOKEN_BYTES) throw new AccessTokenError('token_invalid', 'access token too large');
  let lastError: unknown;
  for (const secret of options.secrets) {
    try {
      const { payload } = await jwtVerify(token, await hmacKey(secret), {
        algorithms: ['HS256'],
        typ: 'JWT',
        issuer: options.issuer,
        currentDate: new Date(options.now * 1000),
        requiredClaims: ['sub', 'exp', 'iat', 'sid'],
        ...(options.allowExpired ? { clockTolerance: Number.MAX_SAFE_INTEGER } : {}),
      });
      const roles = (payload.app_metadata as { authorization?: { roles?: unknown } } | undefined)?.authorization?.roles;
      if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string' || typeof payload.email !== 'string' || !isStringArray(roles)) {
        throw new AccessTokenError('token_invalid', 'access token claims have the wrong types');
      }
      return payload as AccessTokenClaims;
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw new AccessTokenError('token_expired', 'access token expired', { cause: error });
      if (error instanceof AccessTokenError) throw error;
      lastError = error;
      // Only a signature mismatch is worth trying with the next secret.
      if (!(error instanceof joseErrors.JWSSignatureVerificationFailed)) break;
    }
  }
  throw new AccessTokenError('token_invalid', 'access token rejected', { cause: lastError });
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
