import { emailTokenHash, newEmailToken } from '../core/email-token.js';
import { DEFAULT_ACCOUNT_SETTINGS, linkLifetime } from '../site-config/account-settings.js';
import type { AuthDeps } from './deps.js';
import { mailThrottle, mailThrottled, requestedAddress, sealedLink } from './mailed-link.js';

export interface RecoverRequest {
  fields: Record<string, unknown>;
  ip: string;
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
  const token = newEmailToken();
  const result = await deps.store.requestAccountMail({
    purpose: 'recovery',
    email,
    tokenHash: emailTokenHash(token),
    ttlSeconds: linkLifetime(accounts, 'recovery'),
    sealed: sealedLink(deps, token),
    ip: request.ip,
    throttle: mailThrottle(deps, email, `ip:${request.ip}`),
  });
  if (result.status === 'throttled') throw mailThrottled(result.retryAfterSeconds);
  await deps.kickMail?.();
}
