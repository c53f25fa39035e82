import { readdir, readFile } from 'node:fs/promises';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';

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

/** The migrations folders a build of this package can sit beside: dist/ in the package, src/store/ in a checkout. */
function packageCandidates(): string[] {
  // Undefined when a bundler turned this module into CommonJS (netlify dev
  // does for functions); the working directory then has to do.
  const moduleUrl: unknown = import.meta.url;
  if (typeof moduleUrl !== 'string') return [];
  const here = dirname(fileURLToPath(moduleUrl));
  return [resolve(here, '../../supabase/migrations'), resolve(here, '../supabase/migrations')];
}

/**
 * Finds supabase/migrations: next to the working directory first (a site
 * using rolegate, or `netlify dev`), then next to this package.
 */
export function migrationsDirectory(): string {
  const candidates = [
    process.env.ROLEGATE_MIGRATIONS_DIR,
    resolve(process.cwd(), 'supabase/migrations'),
    ...packageCandidates(),
  ].filter((p): p is string => Boolean(p));
  const found = candidates.find((dir) => existsSync(dir));
  if (!found) throw new Error(`cannot find supabase/migrations (looked in ${candidates.join(', ')})`);
  return found;
}

/** The migrations shipped inside the installed rolegate package itself, never a site's own. */
export function packageMigrationsDirectory(): string {
  const candidates = packageCandidates();
  const found = candidates.find((dir) => existsSync(dir));
  if (!found) throw new Error(`cannot find rolegate's own supabase/migrations (looked in ${candidates.join(', ') || 'nowhere: this build has no module URL'})`);
  return found;
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
