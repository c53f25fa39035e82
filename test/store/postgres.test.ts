import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresStore, migratePostgres } from '../../src/store/postgres.js';
import { StoreUnavailableError } from '../../src/store/errors.js';
import { loadMigrations } from '../../src/store/migrate.js';
import { freePort } from '../support/postgres-cluster.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { describeStoreContract } from './contract.js';

describeStoreContract('postgres (real PostgreSQL)', async () => {
  const db = await createTestDatabase();
  // Enough connections that the concurrency cases really run in parallel.
  const store = openPostgresStore({ connectionString: db.url, maxConnections: 25 });
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  return {
    store,
    query: async (text, values) => (await pool.query(text, values)).rows,
    close: async () => {
      await store.close();
      await pool.end();
      await db.drop();
    },
  };
});

describe('postgres schema security', () => {
  let db: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query(`select rolegate.create_user('secret@example.com', '$2b$10$${'h'.repeat(53)}', '{admin}')`);
  });
  afterAll(async () => {
    await client.end();
    await db.drop();
  });

  async function asRole<T>(role: string, sql: string): Promise<T> {
    await client.query('begin');
    try {
      await client.query(`set local role ${role}`);
      return (await client.query(sql)).rows as T;
    } finally {
      await client.query('rollback');
    }
  }

  it('keeps every table, hashes included, away from the anon and authenticated roles', async () => {
    const tables = (await client.query(`select tablename from pg_tables where schemaname = 'rolegate'`)).rows.map((r) => r.tablename as string);
    expect(tables).toEqual(expect.arrayContaining(['users', 'sessions', 'refresh_tokens', 'login_throttle', 'audit_log']));
    for (const role of ['anon', 'authenticated']) {
      for (const table of tables) {
        await expect(asRole(role, `select * from rolegate.${table}`)).rejects.toThrow(/permission denied/);
      }
    }
  });

  it('does not let the anon or authenticated role call any rolegate function', async () => {
    for (const role of ['anon', 'authenticated']) {
      await expect(asRole(role, `select rolegate.find_user_for_login('secret@example.com')`)).rejects.toThrow(/permission denied/);
      await expect(asRole(role, `select rolegate.create_user('x@example.com', null)`)).rejects.toThrow(/permission denied/);
      await expect(asRole(role, `select rolegate.upsert_identity_users('[]')`)).rejects.toThrow(/permission denied/);
    }
    // Every function of every migration, not only the ones named above.
    const callable = await client.query(`
      select r.rolname, p.oid::regprocedure::text as fn
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace, pg_roles r
      where n.nspname = 'rolegate' and r.rolname in ('anon', 'authenticated')
        and has_function_privilege(r.oid, p.oid, 'execute')`);
    expect(callable.rows).toEqual([]);
    const serviceCannot = await client.query(`
      select p.oid::regprocedure::text as fn from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'rolegate' and not has_function_privilege('service_role', p.oid, 'execute')`);
    expect(serviceCannot.rows).toEqual([]);
  });

  it('has row-level security on every table, with no policy that could open it', async () => {
    const rows = (await client.query(`
      select c.relname, c.relrowsecurity,
             (select count(*) from pg_policy p where p.polrelid = c.oid)::int as policies
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'rolegate' and c.relkind = 'r'`)).rows;
    expect(rows.length).toBeGreaterThanOrEqual(5);
    for (const row of rows) {
      expect(row.relrowsecurity, `${row.relname} has RLS on`).toBe(true);
      expect(row.policies, `${row.relname} has no policies`).toBe(0);
    }
  });

  it('lets the service role do its work', async () => {
    const rows = await asRole<{ user: { email: string; password_hash: string } }[]>('service_role', `select rolegate.find_user_for_login('secret@example.com') as user`);
    expect(rows[0]?.user.email).toBe('secret@example.com');
  });

  it('still rotates through the four-argument rotate_refresh_token that function code deployed before the same-client rule calls', async () => {
    const store = openPostgresStore({ connectionString: db.url });
    try {
      const created = await store.createUser({ email: 'deploy-window@example.com', passwordHash: `$2b$10$${'h'.repeat(53)}`, roles: ['member'] });
      if (created.status !== 'created') throw new Error('fixture user not created');
      const first = 'a'.repeat(64);
      expect((await store.createSession({ userId: created.user.id, refreshTokenHash: first, refreshTtlSeconds: 3600 })).status).toBe('created');
      const old = await asRole<{ r: { status: string } }[]>('service_role', `select rolegate.rotate_refresh_token('${first}', '${'b'.repeat(64)}', 3600, 10) as r`);
      expect(old[0]?.r.status).toBe('rotated');
    } finally {
      await store.close();
    }
  });

  it('migrates idempotently, and concurrent migrators do not collide', async () => {
    const fresh = await createTestDatabase({ migrate: false });
    try {
      const results = await Promise.all([migratePostgres(fresh.url), migratePostgres(fresh.url), migratePostgres(fresh.url)]);
      // Each migration applied exactly once between the three of them.
      const versions = (await loadMigrations()).map((m) => m.version);
      expect(results.flat().sort()).toEqual(versions);
      expect(await migratePostgres(fresh.url)).toEqual([]);
    } finally {
      await fresh.drop();
    }
  });
});

describe('postgres store when the database is not there', () => {
  it('fails with StoreUnavailableError in bounded time', async () => {
    const port = await freePort();
    const store = openPostgresStore({ connectionString: `postgres://nobody@127.0.0.1:${port}/none`, timeoutMs: 500 });
    await expect(store.findUserByEmail('a@example.com')).rejects.toBeInstanceOf(StoreUnavailableError);
    await store.close();
  });
});
