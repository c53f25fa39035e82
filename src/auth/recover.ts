import { AuthError } from '../core/auth-errors.js';
import { emailTokenHash, newEmailToken } from '../core/email-token.js';
import { DEFAULT_ACCOUNT_SETTINGS, linkLifetime } from '../site-config/account-settings.js';
import type { AuthDeps } from './deps.js';
import { mailThrottle, mailThrottled, requestedAddress, sealedLink } from './mailed-link.js';

export interface RecoverRequest {
  fields: Record<string, unknown>;
  ip: string;
}

/**
 * Queues a mail with a link for the account at the address, if it belongs to an enabled
 * user, and otherwise nothing, answering the same either way after the same work (a token
 * made and sealed for every request), so the answer tells nobody whether an account exists.
 * Requests are limited per address and per client address, known or not; past a limit the
 * answer is `throttled`. The mail leaves through the outbox.
 */
async function requestLinkForAccount(deps: AuthDeps, request: RecoverRequest, purpose: 'recovery' | 'magic_link'): Promise<void> {
  const email = requestedAddress(request.fields);
  const token = newEmailToken();
  const result = await deps.store.requestAccountMail({
    purpose,
    email,
    tokenHash: emailTokenHash(token),
    ttlSeconds: linkLifetime(deps.accounts ?? DEFAULT_ACCOUNT_SETTINGS, purpose),
    sealed: sealedLink(deps, token, purpose),
    ip: request.ip,
    throttle: mailThrottle(deps, email, `ip:${request.ip}`),
  });
  if (result.status === 'throttled') throw mailThrottled(result.retryAfterSeconds);
  await deps.kickMail?.();
}

/**
 * "Forgot your password?": a link to choose a new one (see requestLinkForAccount: the same
 * answer for every address).
 *
 * @example
 * await requestRecovery(deps, { fields: { email: 'ada@example.com' }, ip: '203.0.113.7' });
 */
export function requestRecovery(deps: AuthDeps, request: RecoverRequest): Promise<void> {
  return requestLinkForAccount(deps, request, 'recovery');
}

/**
 * "Mail me a sign-in link", where the config turns links on (`sign_in_links_off` otherwise):
 * a link that signs in once, for 15 minutes at most (see requestLinkForAccount).
 *
 * @example
 * await requestSignInLink(deps, { fields: { email: 'ada@example.com' }, ip: '203.0.113.7' });
 */
export async function requestSignInLink(deps: AuthDeps, request: RecoverRequest): Promise<void> {
  if (!(deps.accounts ?? DEFAULT_ACCOUNT_SETTINGS).signInLinks) throw new AuthError('sign_in_links_off');
  await requestLinkForAccount(deps, request, 'magic_link');
}
