/**
 * Backfill sync: 10,000 Identity users into the bench's real PostgreSQL
 * through `backfillIdentityUsers` (what `rolegate sync backfill` runs), read
 * page by page over HTTP from the stand-in of Identity's admin users API,
 * once upserting each page in one statement and once one user per statement.
 * The mirror is emptied before every run, so each run creates all 10,000.
 */
import pg from 'pg';
import { backfillIdentityUsers, type BackfillCursor } from '../src/sync/backfill.js';
import { gotrueAdminSource } from '../src/sync/identity-admin.js';
import { storeSink } from '../src/sync/sinks/store.js';
import { identityUsers, startGotrueAdminStandin } from '../test/support/gotrue-admin-standin.js';
import { openPostgresStore } from '../src/store/postgres.js';
import { benchDatabaseUrl } from './database.js';
import { addNote, type Row } from './report.js';
import { summarize } from './stats.js';

const USERS = 10_000;
const PER_PAGE = 1000;
const TOKEN = 'bench-identity-admin-token';

export async function benchBackfill(): Promise<Row[]> {
  const url = await benchDatabaseUrl();
  const identity = await startGotrueAdminStandin({ token: TOKEN, users: identityUsers(USERS, (i) => `identity-${i}@bench.example`) });
  const store = openPostgresStore({ connectionString: url });
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const source = gotrueAdminSource({ url: identity.url, token: TOKEN });
    const run = async (batchSize: number): Promise<number> => {
      await admin.query('truncate rolegate.identity_users');
      let saved: BackfillCursor | null = null;
      const start = performance.now();
      const summary = await backfillIdentityUsers({
        source, sinks: [storeSink(store)], perPage: PER_PAGE, batchSize,
        cursor: { get: async () => saved, set: async (c) => void (saved = c) },
      });
      const ms = performance.now() - start;
      // A run that did not create every user measured something else.
      if (summary.sinks.store?.created !== USERS || summary.failed.length > 0) {
        throw new Error(`bench backfill created ${summary.sinks.store?.created} of ${USERS} (${summary.failed.length} failed)`);
      }
      return ms;
    };
    await run(PER_PAGE); // warm-up: connections, JIT, the table's first pages
    const batched = summarize([await run(PER_PAGE), await run(PER_PAGE), await run(PER_PAGE)]);
    const oneByOne = summarize([await run(1), await run(1)]);
    const section = 'backfill';
    addNote(`Backfill: ${USERS.toLocaleString('en-US')} users in pages of ${PER_PAGE} over HTTP from the Identity admin API stand-in into real PostgreSQL; batched is one upsert statement per page (3 runs), one by one is one statement per user (2 runs).`);
    const ratio = batched.median / oneByOne.median;
    return [
      { section, name: `backfill ${USERS.toLocaleString('en-US')} users, one by one`, unit: 'ms', result: oneByOne },
      {
        section, name: `backfill ${USERS.toLocaleString('en-US')} users, batched (${PER_PAGE} per statement)`, unit: 'ms', result: batched,
        baseline: { name: 'one by one', result: oneByOne }, ratio,
        goal: '≤ 0.1 of one by one (≥ 10× faster), < 10 s', met: ratio <= 0.1 && batched.median < 10_000,
      },
    ];
  } finally {
    await admin.end();
    await store.close();
    await identity.close();
  }
}
