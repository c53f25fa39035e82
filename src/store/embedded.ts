import { resolve } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { SqlStore, type FunctionCaller, type SqlArgument } from './sql-store.js';
import { functionCallStatement } from './sql-call.js';
import { acquireEmbeddedLock } from './embedded-lock.js';
import { findShare, shareEmbeddedDatabase, sharedCaller } from './embedded-share.js';
import { ConfigError } from '../core/environment.js';
import { StoreLockedError } from './errors.js';
import { migrate } from './migrate.js';

export interface EmbeddedStoreOptions {
  /** A directory for the database files, or `memory://` for a throwaway in-memory database (tests). */
  dataDir: string;
  /** Apply pending migrations on open (default true): the embedded database is the developer's own. */
  migrate?: boolean;
}

interface OpenDatabase {
  db: PGlite;
  users: number;
  release: () => void;
}

// One PGlite per data directory per process: netlify dev re-imports a
// function's module when its files change, and a second PGlite on the same
// directory would lose writes just like a second process would.
const REGISTRY_KEY = Symbol.for('rolegate.embedded-databases');
type Registry = Map<string, Promise<OpenDatabase>>;
const registry: Registry = ((globalThis as Record<symbol, unknown>)[REGISTRY_KEY] as Registry | undefined) ??
  ((globalThis as Record<symbol, unknown>)[REGISTRY_KEY] = new Map());

/**
 * PGlite reads its WebAssembly and data files from its own package folder, so
 * it cannot run from inside a bundle, and no deployed function uses it (the
 * build refuses a deploy on the embedded store). It is therefore imported by a
 * name bundlers do not follow: its 510 KB stay out of every function bundle,
 * and it loads from node_modules, locally, on first use.
 */
const PGLITE_PACKAGE: string = '@electric-sql/pglite';

/** PGlite's module, or a ConfigError naming the package when it cannot be loaded (a setup problem, not an outage). */
export async function loadPGlite(name = PGLITE_PACKAGE): Promise<typeof import('@electric-sql/pglite')> {
  try {
    return (await import(name)) as typeof import('@electric-sql/pglite');
  } catch {
    throw new ConfigError([`the embedded database (ROLEGATE_DATA_DIR, the default when neither DATABASE_URL nor SUPABASE_URL is set) needs the package ${name}, which cannot be loaded from node_modules here: install it, or set DATABASE_URL or SUPABASE_URL`]);
  }
}

async function openDatabase(dataDir: string, runMigrations: boolean): Promise<OpenDatabase> {
  const { PGlite } = await loadPGlite();
  if (dataDir.startsWith('memory://')) {
    const db = await PGlite.create();
    if (runMigrations) await migrate(pgliteConnection(db));
    return { db, users: 0, release: () => undefined };
  }
  const release = acquireEmbeddedLock(`${dataDir}.lock`, dataDir);
  try {
    const db = await PGlite.create(dataDir);
    if (runMigrations) await migrate(pgliteConnection(db));
    return { db, users: 0, release };
  } catch (error) {
    release();
    throw error;
  }
}

function pgliteConnection(db: PGlite) {
  return {
    exec: async (sql: string) => { await db.exec(sql); },
    query: async (text: string, values?: unknown[]) => (await db.query<Record<string, unknown>>(text, values as unknown[])).rows,
  };
}

class EmbeddedCaller implements FunctionCaller {
  readonly kind = 'embedded' as const;
  #closed = false;

  constructor(private readonly key: string, private readonly open: OpenDatabase) {}

  get db(): PGlite {
    return this.open.db;
  }

  async call(name: string, args: Record<string, SqlArgument | undefined>): Promise<unknown> {
    if (this.#closed) throw new Error('the embedded store is closed');
    const statement = functionCallStatement(name, args);
    const result = await this.open.db.query<{ result: unknown }>(statement.text, statement.values);
    return result.rows[0]?.result ?? null;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.open.users -= 1;
    if (this.open.users > 0) return;
    registry.delete(this.key);
    await this.open.db.close();
    this.open.release();
  }
}

/**
 * The default store: PostgreSQL compiled to WebAssembly (PGlite), in a data
 * directory, with the same migrations as production. Opening it takes a
 * lock; a second process gets a StoreLockedError naming the holder.
 *
 * @example
 * const store = await openEmbeddedStore({ dataDir: '.rolegate/data' });
 * await store.listUsers();
 */
export async function openEmbeddedStore(options: EmbeddedStoreOptions): Promise<SqlStore> {
  return new SqlStore(await openCaller(options));
}

async function openCaller(options: EmbeddedStoreOptions): Promise<FunctionCaller> {
  const memory = options.dataDir.startsWith('memory://');
  // Every in-memory store is its own database; directories are shared per process.
  const key = memory ? `${options.dataDir}#${Math.random()}` : resolve(options.dataDir);
  // Another process (rolegate dev) owns this database and shares it: go through it.
  const share = memory ? undefined : findShare(key);
  if (share) return sharedCaller(share);
  let pending = registry.get(key);
  if (!pending) {
    pending = openDatabase(memory ? options.dataDir : key, options.migrate ?? true);
    registry.set(key, pending);
    pending.catch(() => registry.delete(key));
  }
  const open = await pending;
  open.users += 1;
  return new EmbeddedCaller(key, open);
}

/**
 * Opens the embedded database in `dataDir` (taking its lock) and shares it with the other
 * local processes until closed (embedded-share.ts): what rolegate dev does, so that its
 * functions and the CLI in another terminal use one database at once.
 */
export async function openSharedEmbeddedStore(dataDir: string): Promise<{ close(): Promise<void> }> {
  const caller = await openCaller({ dataDir });
  if (!(caller instanceof EmbeddedCaller)) throw new StoreLockedError(`the embedded database in ${dataDir} is already shared by another rolegate dev; stop it first`);
  const share = await shareEmbeddedDatabase(resolve(dataDir), caller);
  return {
    close: async () => {
      await share.close();
      await caller.close();
    },
  };
}
