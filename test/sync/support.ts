import type { RetryJob } from '../../src/sync/retry.js';
import { identityConfigSchema } from '../../src/site-config/identity.js';
import { retryKey } from '../../src/sync/retry.js';
import { storeSink } from '../../src/sync/sinks/store.js';
import type { SyncDeps } from '../../src/sync/handlers.js';
import type { IdentitySink } from '../../src/sync/sink.js';
import type { Store } from '../../src/store/store.js';
import { WEBHOOK_SECRET } from './fixtures.js';

export const JWT_SECRET = 'sync-tests-jwt-secret-0123456789abcdef';

export type TestSyncDeps = SyncDeps & { handedOff: RetryJob[]; logs: string[]; sleeps: number[] };

/** Sync dependencies over a real store; the retry hand-off is captured unless replaced. */
export function makeSyncDeps(store: Store, over: Partial<SyncDeps> & { identity?: unknown } = {}): TestSyncDeps {
  const handedOff: RetryJob[] = [];
  const logs: string[] = [];
  const sleeps: number[] = [];
  // A virtual clock that only sleeping moves: retries run instantly and budgets are exact.
  let clock = 0;
  const { identity, ...rest } = over;
  return {
    config: identityConfigSchema.parse(identity ?? {}),
    store,
    sinks: [storeSink(store)],
    deadlineMs: 2000,
    handoff: async (job) => {
      handedOff.push(job);
    },
    recordFailure: async ({ identityUserId, event, failed }) => {
      await store.audit({ event: 'identity_sync_failed', detail: { identity_user_id: identityUserId, event, failed } });
    },
    log: (line) => logs.push(line),
    now: () => new Date(),
    webhook: { secret: new TextEncoder().encode(WEBHOOK_SECRET), maxAgeSeconds: 300 },
    retryKey: retryKey(JWT_SECRET),
    retry: {
      delaysMs: [10, 20, 40],
      budgetMs: 60_000,
      sleep: async (ms) => {
        sleeps.push(ms);
        clock += ms;
      },
      nowMs: () => clock,
    },
    ...rest,
    handedOff,
    logs,
    sleeps,
  };
}

/** A sink that fails its first `failures` calls (as a dead database would), then delegates. */
export function flakySink(inner: IdentitySink, failures: number): IdentitySink & { calls: number } {
  const sink = {
    name: inner.name,
    calls: 0,
    async upsert(users: Parameters<IdentitySink['upsert']>[0], signal?: AbortSignal) {
      sink.calls += 1;
      if (sink.calls <= failures) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
      return inner.upsert(users, signal);
    },
  };
  return sink;
}
