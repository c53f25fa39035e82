import { AuthError } from '../core/auth-errors.js';
import type { EmailTokenPurpose } from '../core/email-token.js';
import { emailProblem, normalizeEmail } from '../core/email.js';
import { passwordProblem } from '../core/password.js';
import { sealMailSecret } from '../mail/seal.js';
import type { ThrottleQuery } from '../store/store.js';
import { DEFAULT_ACCOUNT_SETTINGS } from '../site-config/account-settings.js';
import type { AuthDeps } from './deps.js';

/** What every flow that mails a link shares: the address asked for, the link sealed for the outbox, the limits, the chosen password. */

/** The limits when a caller built its deps without a mail config (the environment's defaults). */
const DEFAULT_LIMITS = { maxPerAddress: 3, maxPerIp: 30, throttleWindowSeconds: 3600 };

/** The address a request names, normalised, or a bad_request (emailProblem decides; PostgreSQL text cannot hold U+0000). */
export function requestedAddress(fields: Record<string, unknown>): string {
  const raw = fields.email;
  const email = typeof raw === 'string' && raw.length <= 320 && !raw.includes('\u0000') ? normalizeEmail(raw) : undefined;
  if (email === undefined || emailProblem(email)) throw new AuthError('bad_request', { message: 'Send the email address of the account.' });
  return email;
}

/** A new password as a form or script sends it (`password`, optionally `password_confirm`), checked; no hashing here. */
export function chosenPassword(fields: Record<string, unknown>): string {
  const { password, password_confirm: confirm } = fields;
  if (typeof password !== 'string' || password.length > 1024) throw new AuthError('bad_request', { message: 'Send the new password.' });
  const problem = passwordProblem(password);
  if (problem) throw new AuthError('weak_password', { message: `The new password ${problem}.` });
  if (confirm !== undefined && confirm !== password) throw new AuthError('bad_request', { message: 'The two passwords are not the same.' });
  return password;
}

/** The link a mail carries for `token` (the verify path, unless deps say otherwise), sealed for the outbox: only delivery opens it. */
export function sealedLink(deps: AuthDeps, token: string, purpose: EmailTokenPurpose): string {
  const verify = new URL((deps.accounts ?? DEFAULT_ACCOUNT_SETTINGS).verifyPath, deps.config.siteUrl);
  verify.searchParams.set('token', token);
  const href = deps.linkUrl?.(token, purpose) ?? verify.href;
  return sealMailSecret(deps.config.jwtSecret, JSON.stringify({ url: href, token }));
}

/**
 * The limits on requests that send mail, shared by every flow so no address is mailed more
 * than MAIL_MAX_PER_ADDRESS times a window whatever asks: per address, and per `sender`
 * (the client address, or the inviting admin), known address or not.
 */
export function mailThrottle(deps: AuthDeps, email: string, sender: string | undefined): ThrottleQuery {
  const limits = deps.mail ?? DEFAULT_LIMITS;
  return {
    windowSeconds: limits.throttleWindowSeconds,
    keys: [
      { key: `mail:address:${email}`, maxFailures: limits.maxPerAddress },
      ...(sender === undefined ? [] : [{ key: `mail:${sender}`, maxFailures: limits.maxPerIp }]),
    ],
  };
}

/** A store's throttled answer as the AuthError every mail flow gives. */
export function mailThrottled(retryAfterSeconds: number): AuthError {
  return new AuthError('throttled', { message: 'Too many requests for a mail. Try again later.', retryAfterSeconds });
}
