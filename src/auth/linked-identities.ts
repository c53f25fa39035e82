import { AuthError } from '../core/auth-errors.js';
import { DEFAULT_ACCOUNT_SETTINGS } from '../site-config/account-settings.js';
import type { LinkedIdentity } from '../store/store.js';
import type { AuthDeps } from './deps.js';
import type { AccountRequest } from './account.js';

export interface LinkedIdentities {
  identities: LinkedIdentity[];
  /** Every provider the site offers, for the account page's "sign in with … to link it". */
  providers: Array<{ id: string; name: string }>;
}

/** The signed-in user's linked providers, while their session is live. */
export async function linkedIdentities(deps: AuthDeps, session: AccountRequest['session']): Promise<LinkedIdentities> {
  if (!(await deps.store.sessionIsLive({ userId: session.id, sessionId: session.sessionId }))) throw new AuthError('session_expired');
  const providers = (deps.accounts ?? DEFAULT_ACCOUNT_SETTINGS).providers.map((p) => ({ id: p.id, name: p.name }));
  return { identities: await deps.store.listIdentities(session.id), providers };
}

/**
 * The signed-in user removes one of their linked providers (`identity`: its id). Their last
 * way to sign in stays (`last_sign_in_method`): a user without a password keeps one provider.
 */
export async function unlinkIdentity(deps: AuthDeps, request: AccountRequest): Promise<void> {
  const identityId = request.fields.identity;
  if (typeof identityId !== 'string' || identityId.length < 1 || identityId.length > 64) throw new AuthError('bad_request', { message: 'Send the identity to remove.' });
  const result = await deps.store.unlinkIdentity({ userId: request.session.id, sessionId: request.session.sessionId, identityId, ip: request.ip });
  if (result.status === 'not_live') throw new AuthError('session_expired');
  if (result.status === 'not_found') throw new AuthError('not_found', { message: 'That provider is not linked to your account.' });
  if (result.status === 'last_sign_in_method') throw new AuthError('last_sign_in_method');
}
