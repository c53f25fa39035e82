import { nodeCrypto } from './node-crypto.js';

/**
 * Token sidejacking defence (OWASP JWT cheat sheet, "Token sidejacking"): a
 * random value lives in a hardened HttpOnly cookie and only its SHA-256 is in
 * the access token, so a token lifted from a log, a header or a script cannot
 * be replayed without the cookie that scripts cannot read.
 */
export function newFingerprint(): string {
  return nodeCrypto().randomBytes(32).toString('base64url');
}

export function fingerprintHash(fingerprint: string): string {
  return nodeCrypto().createHash('sha256').update(fingerprint).digest('hex');
}

/**
 * Whether a token is held by the browser it was issued to: the fingerprint
 * cookie's hash is the token's `fph` claim. Always true with fingerprinting off.
 */
export function fingerprintMatches(required: boolean, fingerprint: string | undefined, claims: { fph?: unknown }): boolean {
  if (!required) return true;
  return fingerprint !== undefined && fingerprint !== '' && claims.fph === fingerprintHash(fingerprint);
}
