import type { IdentityUser } from '../core/identity-user.js';
import type { IdentityUpsertReport } from '../store/store.js';
import { isUnavailable } from '../store/errors.js';

/** What one upsert did to the users it was given (the store's own report shape). */
export type SinkReport = IdentityUpsertReport;

/**
 * Somewhere Identity users are copied to. Every sink must be idempotent and
 * ordered by `updatedAt`: the same users upserted twice, or an older copy
 * after a newer one, change nothing. That is what makes retries and
 * re-running a backfill safe. Throw on failure; the caller retries.
 *
 * Adding a sink is one file exporting a factory, plus its entry in
 * `src/sync/sinks.ts` and its name in the config schema (src/site-config/identity.ts).
 */
export interface IdentitySink {
  readonly name: string;
  upsert(users: IdentityUser[], signal?: AbortSignal): Promise<SinkReport>;
}

/**
 * The sink (or the database behind it) is down or refusing every request —
 * an outage, not a bad row — so a batch job should stop and resume later
 * instead of trying each user alone. Sinks mark such errors `outage: true`.
 */
export function isSinkOutage(error: unknown): boolean {
  return isUnavailable(error) || (typeof error === 'object' && error !== null && (error as { outage?: unknown }).outage === true);
}

export const emptyReport = (): SinkReport => ({ created: 0, updated: 0, unchanged: 0, stale: 0 });

export function addReports(a: SinkReport, b: SinkReport): SinkReport {
  return { created: a.created + b.created, updated: a.updated + b.updated, unchanged: a.unchanged + b.unchanged, stale: a.stale + b.stale };
}
