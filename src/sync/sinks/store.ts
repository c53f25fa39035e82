import type { Store } from '../../store/store.js';
import type { IdentitySink } from '../sink.js';

/** The default sink: this site's own database (rolegate.identity_users), one statement per batch. */
export function storeSink(store: Store): IdentitySink {
  return {
    name: 'store',
    upsert: (users) => store.upsertIdentityUsers(users),
  };
}
