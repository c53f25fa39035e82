/**
 * The PostgreSQL store through PgBouncer in transaction mode, where every
 * transaction may run on another server connection: the whole store contract,
 * the statement timeout held per transaction, no session state left on the
 * server connections, and migrations run through the pooler.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { migratePostgres, openPostgresStore } from '../../src/store/postgres.js';
import { StoreUnavailableError } from '../../src/store/errors.js';
import { loadMigrations } from '../../src/store/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { startPgBouncer, type PgBouncer } from '../support/pgbouncer.js';
import { describeStoreContract } from './contract.js';

const POOL_SIZE = 4;

describeStoreContract('postgres through PgBouncer (transaction mode)', async () => {
  const bouncer = await startPgBouncer({ serverUrl: inject('postgresAdminUrl'), poolSize: POOL_SIZE });
  const db = await createTestDatabase();
  // Far more clients than server connections, so the concurrency cases share them.
  const store = openPostgresStore({ connectionString: bouncer.url(db.url), maxConnections: 25 });
  const direct = new pg.Pool({ connectionString: db.url, max: 2 });
  return {
    store,
    query: async (text, values) => (await direct.query(text, values)).rows,
    close: async () => {
      await store.close();
      await bouncer.stop();
      await direct.end();
      await db.drop();
    },
  };
});

describe('PostgreSQL through PgBouncer in transaction mode', () => {
  let bouncer: PgBouncer;
  let db: TestDatabase;
  let direct: pg.Pool;

  beforeAll(async () => {
    bouncer = await startPgBouncer({ serverUrl: inject('postgresAdminUrl'), poolSize: POOL_SIZE });
    db = await createTestDatabase({ migrate: false });
    direct = new pg.Pool({ connectionString: db.url, max: 3 });
  });
  afterAll(async () => {
    await bouncer.stop();
    await direct.end();
    await db.drop();
  });

  it('refuses a statement timeout sent as a startup parameter, as a production pooler does', async () => {
    const client = new pg.Client({ connectionString: bouncer.url(db.url), statement_timeout: 1000 });
    client.on('error', () => undefined);
    await expect(client.connect()).rejects.toThrow(/unsupported startup parameter: statement_timeout/);
  });

  it('runs the migrations through the pooler, two migrators at once applying each once', async () => {
    const pooled = bouncer.url(db.url);
    const [a, b] = await Promise.all([migratePostgres(pooled), migratePostgres(pooled)]);
    const all = (await loadMigrations()).map((m) => m.version);
    expect([...a, ...b].sort()).toEqual(all);
    expect(await migratePostgres(pooled)).toEqual([]);
  });

  it('has the server cancel a call that outlives DB_TIMEOUT_MS, and the call changes nothing', async () => {
    const store = openPostgresStore({ connectionString: bouncer.url(db.url), timeoutMs: 300 });
    const holder = await direct.connect();
    try {
      await holder.query('begin');
      await holder.query('lock table rolegate.users in access exclusive mode');
      const started = Date.now();
      const error = await store.createUser({ email: 'late@example.com', passwordHash: null, roles: [] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      // The server's timeout answered, not the client's later one (timeoutMs + 1000).
      expect((error as Error).cause).toMatchObject({ code: '57014' });
      expect(Date.now() - started).toBeLessThan(1300);
      await holder.query('commit');
    } finally {
      holder.release();
      await store.close();
    }
    expect((await direct.query(`select count(*)::int as n from rolegate.users where email = 'late@example.com'`)).rows[0].n).toBe(0);
    expect((await direct.query(`select count(*)::int as n from pg_stat_activity where state <> 'idle' and query like '%create_user%' and pid <> pg_backend_pid()`)).rows[0].n).toBe(0);
  });

  it('leaves no setting behind on any server connection', async () => {
    const store = openPostgresStore({ connectionString: bouncer.url(db.url), timeoutMs: 1234, maxConnections: 8 });
    try {
      await Promise.all(Array.from({ length: 40 }, (_, i) => store.findUserByEmail(`nobody-${i}@example.com`)));
    } finally {
      await store.close();
    }
    // As many open transactions as the pooler has server connections: each holds one of them.
    const clients = await Promise.all(Array.from({ length: POOL_SIZE }, async () => {
      const client = new pg.Client({ connectionString: bouncer.url(db.url) });
      await client.connect();
      await client.query('begin');
      return client;
    }));
    try {
      const seen = await Promise.all(clients.map(async (c) => (await c.query(`select current_setting('statement_timeout') as t, pg_backend_pid() as pid`)).rows[0]));
      expect(new Set(seen.map((row) => row.pid)).size).toBe(POOL_SIZE);
      expect(seen.map((row) => row.t)).toEqual(Array(POOL_SIZE).fill('0'));
    } finally {
      await Promise.all(clients.map(async (c) => { await c.query('rollback'); await c.end(); }));
    }
  });
});
