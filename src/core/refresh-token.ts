import { nodeCrypto } from './node-crypto.js';
import type { Secret } from './secret.js';

/** 256 random bits, base64url: the value of the refresh cookie. */
export function newRefreshToken(): string {
  return nodeCrypto().randomBytes(32).toString('base64url');
}

/** What the database stores and looks up: SHA-256 of the token, hex. */
export function refreshTokenHash(token: string): string {
  return nodeCrypto().createHash('sha256').update(token).digest('hex');
}

const SUCCESSOR_LABEL = 'rolegate refresh-token successor v1';

/**
 * The token that replaces `token` at rotation, derived from it with a key
 * that only the server knows. Two tabs refreshing with the same token at the
 * same moment therefore receive the same successor, so the session keeps
 * exactly one live token (RFC 9700 §4.14.2 rotation) while both tabs succeed;
 * someone holding only a stolen token cannot compute it.
 */
export function successorRefreshToken(token: string, secret: Secret): string {
  const { createHmac } = nodeCrypto();
  const key = createHmac('sha256', secret.bytes()).update(SUCCESSOR_LABEL).digest();
  return createHmac('sha256', key).update(token).digest('base64url');
}

/** Refresh tokens are exactly what newRefreshToken or successorRefreshToken make. */
export function looksLikeRefreshToken(value: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/u.test(value);
}
