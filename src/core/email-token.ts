import { nodeCrypto } from './node-crypto.js';

/** What an emailed token may be for; a token works for its own purpose only. */
export type EmailTokenPurpose = 'signup' | 'recovery' | 'invite' | 'email_change' | 'magic_link';

/** How long each kind of link works unless the config shortens it (seconds). */
export const EMAIL_TOKEN_LIFETIMES: Readonly<Record<EmailTokenPurpose, number>> = {
  signup: 24 * 3600,
  recovery: 3600,
  invite: 7 * 24 * 3600,
  email_change: 24 * 3600,
  magic_link: 15 * 60,
};

/** 256 random bits, base64url: the token in a mailed link. */
export function newEmailToken(): string {
  return nodeCrypto().randomBytes(32).toString('base64url');
}

/** What the database keeps and looks up: SHA-256 of the token, hex. */
export function emailTokenHash(token: string): string {
  return nodeCrypto().createHash('sha256').update(token).digest('hex');
}

/** Exactly what newEmailToken makes; anything else is refused before the database is asked. */
export function looksLikeEmailToken(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Za-z0-9_-]{43}$/u.test(value);
}
