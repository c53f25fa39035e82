import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import type { Secret } from './secret.js';
import {
  ACCESS_TOKEN_HEADER,
  AccessTokenError,
  MAX_ACCESS_TOKEN_BYTES,
  accessTokenClaims,
  hasRolegateClaimTypes,
  type AccessTokenClaims,
  type SignAccessTokenOptions,
  type VerifyAccessTokenOptions,
} from './access-token-claims.js';

/**
 * Access tokens on jose and WebCrypto: the implementation that runs in any
 * Web runtime (Deno, edge functions, browsers). Node functions use the
 * synchronous node:crypto twin in access-token-node.ts, which follows the same
 * rules (test/core/access-token*.test.ts run both over the same tokens).
 */
export {
  AccessTokenError,
  DEFAULT_ROLE_CLAIM_PATH,
  MAX_ACCESS_TOKEN_BYTES,
  nowSeconds,
  rolesAtClaimPath,
  type AccessTokenClaims,
  type AccessTokenErrorCode,
  type AccessTokenSubject,
  type SignAccessTokenOptions,
  type VerifyAccessTokenOptions,
} from './access-token-claims.js';

/**
 * The reference signer, on jose: what the functions' own signer (signAccessToken in
 * access-token-node.ts, synchronous on node:crypto) is held to, byte for byte, by the
 * test corpus. Signs the access token in exactly the form Netlify's role-based redirects
 * read: HS256 with header `{"alg":"HS256","typ":"JWT"}` (the matcher ignores
 * tokens without `typ`), an `exp`, and the roles at
 * `app_metadata.authorization.roles`.
 *
 * @example
 * const { token, expiresAt } = await signAccessTokenWithJose({ subject, sessionId, secret, issuer: 'rolegate', ttlSeconds: 900, now: nowSeconds() });
 */
export async function signAccessTokenWithJose(options: SignAccessTokenOptions): Promise<{ token: string; expiresAt: number }> {
  const { sub, iss, iat, exp, ...payload } = accessTokenClaims(options);
  const token = await new SignJWT(payload)
    .setProtectedHeader({ ...ACCESS_TOKEN_HEADER })
    .setSubject(sub)
    .setIssuer(iss!)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(await hmacKey(options.secret));
  return { token, expiresAt: exp };
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
      if (!hasRolegateClaimTypes(payload)) {
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
