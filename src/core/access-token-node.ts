import type { KeyObject } from 'node:crypto';
import { nodeCrypto } from './node-crypto.js';
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
 * The Node functions' access tokens: synchronous HS256 on node:crypto,
 * following exactly the rules of the jose path in access-token.ts (which stays
 * for Web runtimes). jose verifies through async WebCrypto, which costs about
 * twenty times a raw HMAC (BENCHMARKS.md, verification); every request to a
 * site's own function pays that, and none of it is cryptography.
 *
 * Where the two could differ, this one is the stricter: it accepts only the
 * canonical base64url of the signature and refuses any `crit` header, both of
 * which rolegate never writes. test/core/access-token-node.test.ts holds them
 * to the same answers over a corpus of good and forged tokens.
 */

// Made on first use like node:crypto (node-crypto.ts): a cold start that
// verifies no token should not build a decoder and encode a header (~0.3 ms).
let headerBase64url: string | undefined;
const encodedAccessTokenHeader = (): string => (headerBase64url ??= Buffer.from(JSON.stringify(ACCESS_TOKEN_HEADER)).toString('base64url'));
const BASE64URL = /^[A-Za-z0-9_-]*$/;
let strictUtf8: TextDecoder | undefined;
const strictUtf8Decoder = (): TextDecoder => (strictUtf8 ??= new TextDecoder('utf-8', { fatal: true }));

const keys = new WeakMap<Secret, KeyObject>();
function hmacKey(secret: Secret): KeyObject {
  let key = keys.get(secret);
  if (!key) {
    key = nodeCrypto().createSecretKey(secret.bytes());
    keys.set(secret, key);
  }
  return key;
}

function signature(key: KeyObject, signingInput: string): string {
  return nodeCrypto().createHmac('sha256', key).update(signingInput).digest('base64url');
}

/**
 * Signs an access token; byte for byte the token `signAccessTokenWithJose` (jose) makes.
 *
 * @example
 * const { token, expiresAt } = signAccessToken({ subject, sessionId, secret, issuer: 'rolegate', ttlSeconds: 900, now: nowSeconds() });
 */
export function signAccessToken(options: SignAccessTokenOptions): { token: string; expiresAt: number } {
  const claims = accessTokenClaims(options);
  const signingInput = `${encodedAccessTokenHeader()}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return { token: `${signingInput}.${signature(hmacKey(options.secret), signingInput)}`, expiresAt: claims.exp };
}

/** base64url → JSON object, or undefined for anything else (bad alphabet, impossible length, bad UTF-8, not an object). */
function decodeJsonObject(part: string): Record<string, unknown> | undefined {
  return BASE64URL.test(part) ? decodeCheckedJsonObject(part) : undefined;
}

/** decodeJsonObject for a part whose alphabet was already checked. */
function decodeCheckedJsonObject(part: string): Record<string, unknown> | undefined {
  if (part.length % 4 === 1) return undefined;
  try {
    const value: unknown = JSON.parse(strictUtf8Decoder().decode(Buffer.from(part, 'base64url')));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** jose's reading of `typ`: case-insensitive, `JWT` and `application/jwt` are the same. */
function isJwtTyp(typ: unknown): boolean {
  if (typeof typ !== 'string') return false;
  const lower = typ.toLowerCase();
  return (typ.includes('/') ? lower : `application/${lower}`) === 'application/jwt';
}

const invalid = (message: string) => new AccessTokenError('token_invalid', message);

/** The JWT claim rules in jose's order (typ, required claims, iss, nbf, exp), so both paths give the same code. */
function checkClaims(header: Record<string, unknown>, claims: Record<string, unknown>, options: VerifyAccessTokenOptions): void {
  if (!isJwtTyp(header.typ)) throw invalid('unexpected "typ" header');
  for (const claim of ['iss', 'sid', 'iat', 'exp', 'sub']) {
    if (!Object.hasOwn(claims, claim)) throw invalid(`missing "${claim}" claim`);
  }
  if (claims.iss !== options.issuer) throw invalid('unexpected "iss" claim');
  // allowExpired is jose's clockTolerance of MAX_SAFE_INTEGER: it forgives nbf as well as exp.
  const tolerance = options.allowExpired ? Number.MAX_SAFE_INTEGER : 0;
  const now = Math.floor(options.now);
  for (const claim of ['iat', 'nbf', 'exp']) {
    if (claims[claim] !== undefined && typeof claims[claim] !== 'number') throw invalid(`"${claim}" claim must be a number`);
  }
  if (claims.nbf !== undefined && (claims.nbf as number) > now + tolerance) throw invalid('"nbf" claim timestamp check failed');
  if ((claims.exp as number) <= now - tolerance) throw new AccessTokenError('token_expired', 'access token expired');
  if (!hasRolegateClaimTypes(claims)) throw invalid('access token claims have the wrong types');
}

/**
 * Verifies an access token with the rules of `verifyAccessToken`: HS256 only
 * (so `alg:none` and RS/HS confusion fail), header `typ` JWT, signature by one
 * of the secrets compared in constant time, `iss`, `exp`/`nbf` against `now`,
 * the claim types rolegate relies on, and a size cap. Synchronous.
 *
 * @example
 * const claims = verifyAccessTokenSync(token, { secrets: [secret], issuer: 'rolegate', now: nowSeconds() });
 */
export function verifyAccessTokenSync(token: string, options: VerifyAccessTokenOptions): AccessTokenClaims {
  if (!token) throw new AccessTokenError('token_missing', 'no access token');
  if (token.length > MAX_ACCESS_TOKEN_BYTES) throw invalid('access token too large');
  const parts = token.split('.');
  if (parts.length !== 3) throw invalid('not a compact JWS');
  const [encodedHeader = '', encodedPayload = '', sent = ''] = parts;
  // The header rolegate writes decodes to ACCESS_TOKEN_HEADER, so that one is not decoded again.
  const header: Record<string, unknown> | undefined = encodedHeader === encodedAccessTokenHeader() ? ACCESS_TOKEN_HEADER : decodeJsonObject(encodedHeader);
  if (!header) throw invalid('malformed header');
  // rolegate never writes `crit`; refusing it outright is stricter than jose, never looser.
  if (header.crit !== undefined) throw invalid('"crit" header not accepted');
  if (header.alg !== 'HS256') throw invalid('algorithm not allowed');
  if (!BASE64URL.test(encodedPayload)) throw invalid('malformed payload');
  const signingInput = `${encodedHeader}.${encodedPayload}`;
  const sentBytes = Buffer.from(sent);
  const signedBySecret = options.secrets.some((secret) => {
    const expected = Buffer.from(signature(hmacKey(secret), signingInput));
    return expected.length === sentBytes.length && nodeCrypto().timingSafeEqual(expected, sentBytes);
  });
  if (!signedBySecret) throw invalid('signature mismatch');
  const claims = decodeCheckedJsonObject(encodedPayload);
  if (!claims) throw invalid('claims are not a JSON object');
  checkClaims(header, claims, options);
  return claims as AccessTokenClaims;
}
