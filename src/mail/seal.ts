import { seal, unseal } from '../core/sealed.js';
import type { Secret } from '../core/secret.js';

const KEY_LABEL = 'rolegate mail outbox v1';

/**
 * Seals the secret part of a mail (its link) for the outbox: a copy of the database alone
 * reads no live token (src/core/sealed.ts).
 *
 * @example
 * const sealed = sealMailSecret(config.jwtSecret, JSON.stringify({ url }));
 */
export function sealMailSecret(secret: Secret, plaintext: string): string {
  return seal(secret, KEY_LABEL, plaintext);
}

/** Opens what sealMailSecret made under any of `secrets` (the current JWT_SECRET, then the previous); null when none opens it. */
export function openMailSecret(secrets: readonly Secret[], sealed: string): string | null {
  return unseal(secrets, KEY_LABEL, sealed);
}
