import { readdir, readFile } from 'node:fs/promises';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync, readFileSync } from 'node:fs';

/** One connection that can run a multi-statement script and a parameterised query. */
export interface MigrationConnection {
  exec(sql: string): Promise<void>;
  query(text: string, values?: unknown[]): Promise<Record<string, unknown>[]>;
}

export interface Migration {
  version: string;
  name: string;
  sql: string;
}

// Any 64-bit number unique to rolegate: concurrent migrators on one real
// PostgreSQL queue on this advisory lock instead of racing.
const MIGRATION_LOCK_ID = 7_261_122_001;

/** Whether `dir` is the supabase/migrations folder of the rolegate package itself (a checkout or an install). */
function isRolegatesOwn(dir: string): boolean {
  try {
    return existsSync(dir) && (JSON.parse(readFileSync(join(dir, '..', '..', 'package.json'), 'utf8')) as { name?: unknown }).name === 'rolegate';
  } catch {
    return false;
  }
}

/**
 * rolegate's own migrations, never a site's: a site may keep its own SQL in
 * supabase/migrations, which must not be applied as rolegate's. Looked for
 * beside this module (dist/ in the package, src/store/ in a checkout), then in
 * the working directory's node_modules/rolegate and the working directory
 * itself, each accepted only where the package.json two levels up is rolegate's.
 * The working directory is what is left when a bundler turned this module
 * into CommonJS without import.meta.url (netlify dev does for functions).
 */
export function packageMigrationsDirectory(): string {
  const moduleUrl: unknown = import.meta.url;
  const here = typeof moduleUrl === 'string' ? dirname(fileURLToPath(moduleUrl)) : undefined;
  const candidates = [
    here && resolve(here, '../supabase/migrations'),
    here && resolve(here, '../../supabase/migrations'),
    resolve(process.cwd(), 'node_modules/rolegate/supabase/migrations'),
    resolve(process.cwd(), 'supabase/migrations'),
  ].filter((p): p is string => Boolean(p));
  const found = candidates.find(isRolegatesOwn);
  if (!found) throw new Error(`cannot find rolegate's own supabase/migrations (looked in ${candidates.join(', ')}); set ROLEGATE_MIGRATIONS_DIR to it`);
  return found;
}

/** The migrations to apply: ROLEGATE_MIGRATIONS_DIR when set, else the package's own. */
export function migrationsDirectory(): string {
  return process.env.ROLEGATE_MIGRATIONS_DIR || packageMigrationsDirectory();
}

/** Supabase CLI convention: `<timestamp>_<name>.sql`, applied in timestamp order. */
export async function loadMigrations(dir = migrationsDirectory()): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d+_[\w-]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (file) => {
      const [, version = '', name = ''] = /^(\d+)_([\w-]+)\.sql$/.exec(file) ?? [];
      return { version, name, sql: await readFile(join(dir, file), 'utf8') };
    }),
  );
}

/**
 * Applies every migration not yet recorded, each in the same transaction as
 * its bookkeeping row, under an advisory lock. Safe to run from several
 * processes at once and to run again. Returns the versions it applied.
 */
export async function migrate(connection: MigrationConnection, migrations?: Migration[]): Promise<string[]> {
  const all = migrations ?? (await loadMigrations());
  const applied: string[] = [];
  await connection.exec('begin');
  try {
    // Taken before anything else: even `create schema if not exists` races
    // when two migrators run it at the same moment.
    await connection.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK_ID]);
    await connection.exec(`
      create schema if not exists rolegate;
      create table if not exists rolegate.schema_migrations (
        version text primary key,
        name text not null,
        applied_at timestamptz not null default now()
      );
      alter table rolegate.schema_migrations enable row level security;
    `);
    const rows = await connection.query('select version from rolegate.schema_migrations');
    const done = new Set(rows.map((r) => String(r.version)));
    for (const m of all) {
      if (done.has(m.version)) continue;
      await connection.exec(m.sql);
      await connection.query('insert into rolegate.schema_migrations (version, name) values ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    await connection.exec('commit');
  } catch (error) {
    await connection.exec('rollback').catch(() => undefined);
    throw error;
  }
  return applied;
}
