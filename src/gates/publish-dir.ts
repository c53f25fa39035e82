import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import type { GateConfig } from '../site-config/schema.js';
import { RolegateError } from '../core/rolegate-error.js';

/** The publish directory would serve a file that must never be served; nothing was written. */
export class UnsafePublishDirError extends RolegateError {
  readonly code = 'unsafe_publish_dir';
  constructor(message: string) {
    super(message);
    this.name = 'UnsafePublishDirError';
  }
}

/** Local state that holds secrets: the embedded database (bcrypt hashes, sessions) and netlify dev's own files. */
const STATE_DIRS = ['.rolegate', '.netlify'];
const ENV_FILE = /^\.env(\..+)?$/;
/** Committed on purpose, with placeholders instead of values (the dotenv convention): not secrets. */
const ENV_TEMPLATES = new Set(['.env.example', '.env.sample', '.env.template']);

function inside(child: string, parent: string): boolean {
  const path = relative(parent, child);
  return path === '' || (!path.startsWith('..') && !path.startsWith(sep) && path !== '..');
}

/**
 * Refuses a publish directory that would serve secrets: the embedded database's directory
 * (`dataDir` when the caller uses one, else `.rolegate/data` once it exists), `.rolegate/` or
 * `.netlify/`, or an `.env` file. With
 * `publish = "."`, common for plain sites, everything at the site root is served, so these
 * would be downloadable by anyone who guesses the path.
 */
export function assertPublishDirServesNoSecrets(siteRoot: string, config: Pick<GateConfig, 'publishDir'>, dataDir?: string): void {
  const root = resolve(siteRoot);
  const publishDir = resolve(root, config.publishDir);
  const exposed: string[] = [];
  // A data directory the caller names is in use (it may not exist yet); the default only once it exists.
  const data = resolve(root, dataDir ?? join('.rolegate', 'data'));
  if (inside(data, publishDir) && (dataDir !== undefined || existsSync(data))) exposed.push(`the embedded database's directory ${relative(root, data) || data}`);
  // A publish directory that is the site root holds .netlify/ (netlify dev's state and the
  // generated functions: code and the compiled config, no secrets) by design; Netlify keeps
  // /.netlify/ paths for itself, the build's rules answer 404 for .rolegate/ and the site's
  // sources (compile.ts, SITE_ROOT_FILES), and the data directory lives elsewhere.
  const servesRoot = publishDir === root;
  for (const name of STATE_DIRS) {
    const path = join(publishDir, name);
    if (existsSync(path) && !inside(data, path) && !servesRoot) exposed.push(`${relative(root, path)}/`);
  }
  if (existsSync(publishDir) && statSync(publishDir).isDirectory()) {
    for (const name of readdirSync(publishDir)) if (ENV_FILE.test(name) && !ENV_TEMPLATES.has(name)) exposed.push(relative(root, join(publishDir, name)));
  }
  if (exposed.length) {
    throw new UnsafePublishDirError(
      `refusing to build: the publish directory "${config.publishDir}" would serve ${exposed.join(', ')}; publish a folder that holds only the site (say "public"), or set ROLEGATE_DATA_DIR outside it`,
    );
  }
}

/** A page the config sends visitors to must exist, or the bounce ends on a 404. */
export function missingPageWarnings(siteRoot: string, config: Pick<GateConfig, 'publishDir' | 'loginPage' | 'forbiddenPage'>): string[] {
  const publishDir = resolve(siteRoot, config.publishDir);
  const warnings: string[] = [];
  for (const [what, page] of [['sign-in page (loginPage)', config.loginPage], ['forbidden page (forbiddenPage)', config.forbiddenPage]] as const) {
    const stem = page.replace(/\/$/, '');
    const candidates = [`${stem}.html`, `${stem}/index.html`, stem].map((p) => join(publishDir, ...p.split('/')));
    if (!candidates.some((path) => existsSync(path) && statSync(path).isFile())) {
      warnings.push(`the ${what} ${page} has no file in ${config.publishDir}/ (looked for ${stem.slice(1)}.html and ${stem.slice(1)}/index.html): visitors sent there get a 404`);
    }
  }
  return warnings;
}

/** Said at every redirects-mode build: what that mode relies on. */
export const REDIRECTS_MODE_WARNING = 'mode "redirects": Netlify checks Role= rules only on plans where it verifies the site\'s own JWT secret (not while Identity is on), and netlify dev\'s matcher serves them to unsigned (alg none) tokens; edge mode, the default, checks tokens itself (README, "Choosing a gate mode")';
