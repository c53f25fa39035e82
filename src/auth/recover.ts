import { AuthError } from '../core/auth-errors.js';
import { emailProblem, normalizeEmail } from '../core/email.js';
import { EMAIL_TOKEN_LIFETIMES, emailTokenHash, newEmailToken } from '../core/email-token.js';
import { sealMailSecret } from '../mail/seal.js';
import { DEFAULT_ACCOUNT_SETTINGS } from '../site-config/account-settings.js';
import type { AuthDeps } from './deps.js';

export interface RecoverRequest {
  fields: Record<string, unknown>;
  ip: string;
}

/** The limits when a caller built its deps without a mail config (the environment's defaults). */
const DEFAULT_LIMITS = { maxPerAddress: 3, maxPerIp: 30, throttleWindowSeconds: 3600 };

/** The address a request names, normalised, or a bad_request (emailProblem decides; PostgreSQL text cannot hold U+0000). */
export function requestedAddress(fields: Record<string, unknown>): string {
  const raw = fields.email;
  const email = typeof raw === 'string' && raw.length <= 320 && !raw.includes('\u0000') ? normalizeEmail(raw) : undefined;
  if (email === undefined || emailProblem(email)) throw new AuthError('bad_request', { message: 'Send the email address of the account.' });
  return email;
}

/**
 * "Forgot your password?": queues a recovery mail if the address belongs to an enabled
 * user, and otherwise nothing, answering the same either way after the same work (a
 * token made and sealed for every request), so the answer tells nobody whether an
 * account exists. Requests are limited per address and per client address, known or not;
 * past a limit the answer is `throttled`. The mail leaves through the outbox.
 *
 * @example
 * await requestRecovery(deps, { fields: { email: 'ada@example.com' }, ip: '203.0.113.7' });
 */
export async function requestRecovery(deps: AuthDeps, request: RecoverRequest): Promise<void> {
  const email = requestedAddress(request.fields);
  const accounts = deps.accounts ?? DEFAULT_ACCOUNT_SETTINGS;
  const limits = deps.mail ?? DEFAULT_LIMITS;
  const token = newEmailToken();
  const url = new URL(accounts.verifyPath, deps.config.siteUrl);
  url.searchParams.set('token', token);
  const result = await deps.store.requestAccountMail({
    purpose: 'recovery',
    email,
    tokenHash: emailTokenHash(token),
    ttlSeconds: Math.min(accounts.linkLifetimes.recovery, EMAIL_TOKEN_LIFETIMES.recovery),
    sealed: sealMailSecret(deps.config.jwtSecret, JSON.stringify({ url: url.href, token })),
    ip: request.ip,
    throttle: {
      windowSeconds: limits.throttleWindowSeconds,
      keys: [
        { key: `mail:address:${email}`, maxFailures: limits.maxPerAddress },
        { key: `mail:ip:${request.ip}`, maxFailures: limits.maxPerIp },
      ],
    },
  });
  if (result.status === 'throttled') {
    throw new AuthError('throttled', { message: 'Too many requests for a mail. Try again later.', retryAfterSeconds: result.retryAfterSeconds });
  }
  await deps.kickMail?.();
}
