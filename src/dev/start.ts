/**
 * `npm start`: the site on this machine, with no Netlify account and no
 * network. Writes the gates into the publish directory's _redirects, applies the migrations to the embedded database (or the database
 * the environment names), seeds an admin, then runs `netlify dev --offline`
 * with the dev-only JWT secret from netlify.toml so the locally emulated role
 * gates and the functions agree.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readDatabaseConfig, type Env } from '../core/config.js';
import { hashPassword, passwordProblem } from '../core/password.js';
import { openStore } from '../store/open-store.js';
import { loadGateConfig } from '../gates/compile.js';
import { buildRedirects } from '../gates/build.js';
import { devJwtSecret } from './dev-secret.js';

const DEFAULT_ADMIN_EMAIL = 'admin@example.com';
const PORT = 8888;

export { devJwtSecret };

/** Creates the admin once. Returns the generated password when one was made, so it is printed exactly once. */
export async function seedAdmin(env: Env, bcryptCost: number): Promise<{ email: string; created: boolean; generatedPassword?: string }> {
  const email = (env.ADMIN_EMAIL ?? DEFAULT_ADMIN_EMAIL).trim().toLowerCase().normalize('NFC');
  const store = await openStore(readDatabaseConfig(env));
  try {
    if (await store.findUserByEmail(email)) return { email, created: false };
    const generatedPassword = env.ADMIN_PASSWORD ? undefined : randomBytes(12).toString('base64url');
    const password = env.ADMIN_PASSWORD ?? generatedPassword!;
    const problem = passwordProblem(password);
    if (problem) throw new Error(`ADMIN_PASSWORD ${problem}`);
    const result = await store.createUser({ email, passwordHash: await hashPassword(password, bcryptCost), roles: ['admin'] });
    if (result.status !== 'created') return { email, created: false };
    return { email, created: true, generatedPassword };
  } finally {
    await store.close();
  }
}

/**
 * Writes the gates for `netlify dev`. In edge mode they are written as
 * `_redirects` role rules instead: netlify dev cannot run edge functions
 * offline, and without this the local gated pages would be served unchecked.
 * The deploy's own build (`rolegate gates build`) writes the edge function.
 * Returns the lines to show.
 */
export async function buildLocalGates(root: string): Promise<string[]> {
  const { config } = loadGateConfig(readFileSync(join(root, 'rolegate.config.json'), 'utf8'));
  const edge = config.mode === 'edge';
  const built = await buildRedirects({ siteRoot: root, config: edge ? { ...config, mode: 'redirects' } : config });
  const lines = built.warnings.map((w) => `warning: ${w}`);
  if (edge) lines.push('mode "edge": locally the gates run as _redirects role rules (netlify dev cannot run edge functions offline); deploys use the edge function');
  return lines;
}

async function main(): Promise<void> {
  const root = process.cwd();
  const toml = readFileSync(join(root, 'netlify.toml'), 'utf8');
  const secret = devJwtSecret(toml);
  if (!secret) throw new Error('netlify.toml has no [dev] jwtSecret: the local role gates need it');
  if (process.env.JWT_SECRET && process.env.JWT_SECRET !== secret) {
    console.warn('rolegate: JWT_SECRET in your environment is ignored locally; the functions sign with netlify.toml [dev] jwtSecret so the local gates accept their tokens.');
  }
  const env: Env = { ...process.env, JWT_SECRET: secret, SITE_URL: process.env.SITE_URL ?? `http://localhost:${PORT}` };
  const db = readDatabaseConfig(env);
  // netlify dev hands functions a NETLIFY_DB_URL of its own; naming the data
  // directory keeps them on the database seeded here.
  if (db.kind === 'embedded') env.ROLEGATE_DATA_DIR = db.dataDir;
  const cost = Number(env.BCRYPT_COST ?? 11);

  // netlify dev does not run the build command: generate the gates here.
  for (const warning of await buildLocalGates(root)) console.warn(`rolegate: ${warning}`);

  const admin = await seedAdmin(env, cost);
  const where = db.kind === 'embedded' ? `embedded database in ${db.dataDir}` : `${db.kind} database`;
  const lines = [`rolegate: using the ${where}`];
  if (admin.generatedPassword) {
    lines.push(`rolegate: created admin ${admin.email} with password ${admin.generatedPassword}`, '          (shown only this once; set ADMIN_EMAIL / ADMIN_PASSWORD before the first start to choose them)');
  } else if (admin.created) {
    lines.push(`rolegate: created admin ${admin.email} with the password from ADMIN_PASSWORD`);
  } else {
    lines.push(`rolegate: admin ${admin.email} already exists (password as set when it was created)`);
  }
  lines.push(`rolegate: open http://localhost:${PORT}/ and sign in at http://localhost:${PORT}/login`);
  console.log(lines.join('\n'));

  const netlify = join(root, 'node_modules', '.bin', 'netlify');
  if (!existsSync(netlify)) throw new Error('netlify-cli is not installed: run `npm install` first');
  // --offline: no account, no network. Edge functions would make netlify dev
  // download Deno, which cannot work offline; this site has none.
  const child = spawn(netlify, ['dev', '--offline', '--internal-disable-edge-functions', '--port', String(PORT)], { stdio: 'inherit', env });
  const stop = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  child.on('exit', (code) => process.exit(code ?? 0));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(`rolegate: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
