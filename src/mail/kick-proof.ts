import { nodeCrypto } from '../core/node-crypto.js';
import type { Secret } from '../core/secret.js';

/**
 * The proof that a POST to mail-background is rolegate's own kick (kick.ts), not anyone's:
 * Netlify serves a background function at a public URL, and each call runs delivery for up to
 * 15 minutes. The header is `<unix-seconds>.<hex HMAC-SHA256 over "mail-kick:<unix-seconds>">`
 * under a key derived from JWT_SECRET, accepted for KICK_PROOF_WINDOW_SECONDS either way.
 * Within that window a seen header could be sent again; the most it starts is one more run
 * over mail that is due anyway.
 */

/** The request header that carries the proof (Netlify hands header names over in lower case). */
export const KICK_PROOF_HEADER = 'x-rolegate-kick';

/** How far a proof's time may be from the function's clock, before or after. */
export const KICK_PROOF_WINDOW_SECONDS = 300;

// A key of its own, derived as the outbox key is (seal.ts) under another label: a proof is
// never a valid JWT signature, nor the other way round.
const KEY_LABEL = 'rolegate mail kick v1';
const PROOF = /^(\d{1,12})\.([0-9a-f]{64})$/u;

function kickKey(secret: Secret): Buffer {
  return Buffer.from(nodeCrypto().hkdfSync('sha256', secret.bytes(), new Uint8Array(0), KEY_LABEL, 32));
}

function mac(secret: Secret, unixSeconds: number): Buffer {
  return nodeCrypto().createHmac('sha256', kickKey(secret)).update(`mail-kick:${unixSeconds}`).digest();
}

/**
 * The header value that proves a kick made now under `secret` (the current JWT_SECRET).
 *
 * @example
 * headers[KICK_PROOF_HEADER] = kickProof({ secret: config.auth.jwtSecret, unixSeconds: Math.floor(Date.now() / 1000) });
 */
export function kickProof(options: { secret: Secret; unixSeconds: number }): string {
  const unixSeconds = Math.floor(options.unixSeconds);
  return `${unixSeconds}.${mac(options.secret, unixSeconds).toString('hex')}`;
}

/**
 * Whether `proof` (the header's value, if any) was made by kickProof under one of `secrets`
 * (verificationSecrets: JWT_SECRET, then JWT_SECRET_PREVIOUS) within the window around now.
 * The MAC is compared in constant time.
 *
 * @example
 * isValidKickProof({ proof: event.headers['x-rolegate-kick'], secrets, unixSeconds: Math.floor(Date.now() / 1000) }); // false for an unsigned POST
 */
export function isValidKickProof(options: { proof: string | undefined; secrets: readonly Secret[]; unixSeconds: number }): boolean {
  const match = PROOF.exec(options.proof ?? '');
  if (!match) return false;
  const unixSeconds = Number(match[1]);
  if (Math.abs(unixSeconds - options.unixSeconds) > KICK_PROOF_WINDOW_SECONDS) return false;
  const given = Buffer.from(match[2]!, 'hex');
  // Every secret is tried, so the time taken does not tell which one matched.
  let valid = false;
  for (const secret of options.secrets) {
    if (nodeCrypto().timingSafeEqual(given, mac(secret, unixSeconds))) valid = true;
  }
  return valid;
}
