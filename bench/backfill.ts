/**
 * Section 5 of issue 7, backfill sync: 10,000 Identity users into real
 * PostgreSQL, batched vs one by one in the same run; goals ≥ 10× faster
 * batched and 10k in under 10 s.
 *
 * HOOK — not measured yet. `rolegate sync backfill` (src/sync/) is being
 * built in parallel, and this bench does not implement sync itself. To fill
 * this in: build 10,000 users with the sync tests' fixture helpers, run
 * `backfillIdentityUsers` from src/sync/backfill.ts against
 * `await benchDatabaseUrl()` (bench/database.ts: the bench's own migrated
 * PostgreSQL) once with its batching and once with a batch size of 1, time
 * both with `timings` (bench/stats.ts), and return two rows plus a ratio row
 * with goals '≥ 10× one by one' and '< 10 s for 10k'. Until then this
 * section reports nothing and says so in BENCHMARKS.md.
 */
import { addNote, type Row } from './report.js';

export async function benchBackfill(): Promise<Row[]> {
  addNote('Backfill sync (issue 7, section 5) is not measured yet: bench/backfill.ts is the hook for it, waiting for `rolegate sync backfill` (src/sync).');
  return [];
}
