import { nodeCrypto } from './node-crypto.js';
import type { Secret } from './secret.js';

const VERSION = 'v1';

/** A key for one use of JWT_SECRET, named by `label`: so no other variable must be kept, and no sealed text is ever a valid signature. */
function derivedKey(secret: Secret, label: string): Buffer {
  return Buffer.from(nodeCrypto().hkdfSync('sha256', secret.bytes(), new Uint8Array(0), label, 32));
}

/**
 * Seals `plaintext` with AES-256-GCM under the key `label` derives from `secret`: nobody without
 * the secret reads or alters it. `v1.<iv>.<ciphertext>.<tag>`, base64url parts.
 */
export function seal(secret: Secret, label: string, plaintext: string): string {
  const { randomBytes, createCipheriv } = nodeCrypto();
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', derivedKey(secret, label), iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}

/**
 * Whether a part is base64url exactly as seal() writes it. Node's decoder also takes `+`, `/`,
 * `=`, stray characters and set unused low bits, so without this one sealed value would open
 * under many spellings, and a value altered by a character could still open.
 */
function canonical(part: string): boolean {
  return Buffer.from(part, 'base64url').toString('base64url') === part;
}

/** Opens what seal made with `label` under any of `secrets` (the current JWT_SECRET, then the previous); null when none opens it or it is not spelled as sealed. */
export function unseal(secrets: readonly Secret[], label: string, sealed: string): string | null {
  const parts = sealed.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION || !parts.slice(1).every(canonical)) return null;
  const [, iv, body, tag] = parts as [string, string, string, string];
  for (const secret of secrets) {
    try {
      const decipher = nodeCrypto().createDecipheriv('aes-256-gcm', derivedKey(secret, label), Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      // Not sealed under this secret (or altered): try the next.
    }
  }
  return null;
}
