/** Email addresses as rolegate stores, compares and validates them. */

// Pragmatic, not RFC 5322: one "@", no spaces or control characters, a domain
// of non-empty dot-separated labels, and no lone surrogate (it would be stored as U+FFFD,
// so two addresses asked for would be one). Quoted local parts are not supported.
const EMAIL = /^[^\s@\p{Cc}\p{Cs}]+@[^\s@.\p{Cc}\p{Cs}]+(\.[^\s@.\p{Cc}\p{Cs}]+)*$/u;
const MAX_EMAIL_LENGTH = 254; // RFC 5321 path limit

/** The form emails are stored and looked up in: trimmed, NFC, lower-case. */
export function normalizeEmail(email: string): string {
  return email.trim().normalize('NFC').toLowerCase();
}

/** Why a (normalised) email cannot be used, or undefined when it can. */
export function emailProblem(email: string): string | undefined {
  if (email === '') return 'is empty';
  if (email.length > MAX_EMAIL_LENGTH) return `is longer than ${MAX_EMAIL_LENGTH} characters`;
  if (!EMAIL.test(email)) return `${JSON.stringify(email)} is not an email address`;
  return undefined;
}
