import { nodeCrypto } from '../core/node-crypto.js';
import type { Secret } from '../core/secret.js';

const KEY_LABEL = 'rolegate mail outbox v1';
const VERSION = 'v1';

/** The outbox key: derived from JWT_SECRET, so no other variable must be kept, and useless for signing. */
function outboxKey(secret: Secret): Buffer {
  return Buffer.from(nodeCrypto().hkdfSync('sha256', secret.bytes(), new Uint8Array(0), KEY_LABEL, 32));
}

/**
 * Seals the secret part of a mail (its link) for the outbox with AES-256-GCM: a copy of the
 * database alone reads no live token. `v1.<iv>.<ciphertext>.<tag>`, base64url parts.
 *
 * @example
 * const sealed = sealMailSecret(config.jwtSecret, JSON.stringify({ url }));
 */
export function sealMailSecret(secret: Secret, plaintext: string): string {
  const { randomBytes, createCipheriv } = nodeCrypto();
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', outboxKey(secret), iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}

/** Opens what sealMailSecret made under any of `secrets` (the current JWT_SECRET, then the previous); null when none opens it. */
export function openMailSecret(secrets: readonly Secret[], sealed: string): string | null {
  const parts = sealed.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION) return null;
  const [, iv, body, tag] = parts as [string, string, string, string];
  for (const secret of secrets) {
    try {
      const decipher = nodeCrypto().createDecipheriv('aes-256-gcm', outboxKey(secret), Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      // Not sealed under this secret: try the next.
    }
  }
  return null;
}
