import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, relative, resolve, sep } from 'node:path';

/** Where the embedded database lives by default, relative to the site root (core/environment.ts). */
const DEFAULT_DATA_DIR = join('.rolegate', 'data');

function publishDirOf(siteRoot: string): string {
  try {
    const value = (JSON.parse(readFileSync(join(siteRoot, 'rolegate.config.json'), 'utf8')) as { publishDir?: unknown }).publishDir;
    return typeof value === 'string' ? value : 'public';
  } catch {
    return 'public';
  }
}

/**
 * The embedded database's directory for a site that names none (ROLEGATE_DATA_DIR unset):
 * `.rolegate/data` in the site, unless the site publishes a folder that holds it (`publish = "."`),
 * which would serve the database; then a folder of its own under the user's cache directory,
 * named after the site so two sites never share one.
 */
export function defaultSiteDataDir(siteRoot: string, env: Record<string, string | undefined> = process.env, publishDir = publishDirOf(siteRoot)): string {
  const root = resolve(siteRoot);
  const inSite = resolve(root, DEFAULT_DATA_DIR);
  const fromPublish = relative(resolve(root, publishDir), inSite);
  if (fromPublish.startsWith('..') || fromPublish.startsWith(sep)) return inSite;
  const cache = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const id = createHash('sha256').update(root).digest('hex').slice(0, 10);
  return join(cache, 'rolegate', `${basename(root)}-${id}`, 'data');
}

/** `env` with ROLEGATE_DATA_DIR set to the site's default when it names no database at all. */
export function withSiteDataDir<E extends Record<string, string | undefined>>(env: E, siteRoot: string): E {
  const named = ['ROLEGATE_DATA_DIR', 'DATABASE_URL', 'NETLIFY_DB_URL', 'SUPABASE_URL', 'SUPABASE_SERVICE_ROLE_KEY'].some((name) => env[name]?.trim());
  return named ? env : { ...env, ROLEGATE_DATA_DIR: defaultSiteDataDir(siteRoot, env) };
}
