import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { migratePostgres, openPostgresStore } from '../../src/store/postgres.js';
import type { SqlStore } from '../../src/store/sql-store.js';

export interface TestDatabase {
  /** Superuser connection string to the new database. */
  url: string;
  name: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A fresh database in the run's real PostgreSQL, migrated unless told otherwise. */
export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const adminUrl = inject('postgresAdminUrl');
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = withDatabase(adminUrl, name);
  if (options.migrate ?? true) await migratePostgres(url);
  return {
    url,
    name,
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        // A pool's end() resolves before its sockets have closed; `with (force)`
        // would then terminate them, and a client that is already ending has no
        // error listener left, so the 57P01 becomes an uncaught exception. Wait
        // for them to go instead, forcing only what is still open after 5 s.
        for (let attempt = 0; ; attempt++) {
          try {
            await c.query(`drop database if exists ${name}`);
            return;
          } catch (error) {
            if ((error as { code?: string }).code !== '55006' || attempt >= 50) break;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Same database, connecting as another login role (e.g. `authenticator`). */
export function asLogin(url: string, user: string): string {
  const u = new URL(url);
  u.username = user;
  return u.toString();
}

export interface TestStore {
  db: TestDatabase;
  /** The store under test, on the real PostgreSQL. */
  store: SqlStore;
  /** A superuser pool on the same database, for looking at rows. */
  sql: pg.Pool;
  close(): Promise<void>;
}

export interface Pooler {
  /** The database's URL with the pooler's host and port. */
  url(serverUrl: string): string;
  stop(): Promise<void>;
}

/**
 * A fresh migrated database, a postgres store on it and a pool to inspect it;
 * close() tears all three down in order. With `through`, the store (and only
 * the store) connects through that pooler, which close() stops before the
 * drop: a pooler keeps its server connections open, and DROP DATABASE waits
 * for them.
 */
export async function openTestStore(options: { maxConnections?: number; inspectConnections?: number; through?: Pooler } = {}): Promise<TestStore> {
  const db = await createTestDatabase();
  const connectionString = options.through ? options.through.url(db.url) : db.url;
  const store = openPostgresStore({ connectionString, ...(options.maxConnections ? { maxConnections: options.maxConnections } : {}) });
  const sql = new pg.Pool({ connectionString: db.url, max: options.inspectConnections ?? 2 });
  return {
    db, store, sql,
    close: async () => {
      await store.close();
      await options.through?.stop();
      await sql.end();
      await db.drop();
    },
  };
}
