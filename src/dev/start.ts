/**
 * `npm start`: the site on this machine, with no Netlify account and no
 * network, reachable from this machine only. Builds the gates as the deploy
 * does (`rolegate gates build`), applies the migrations to the embedded
 * database (or the database the environment names), seeds an admin, then runs
 * `netlify dev --offline` on a loopback port behind rolegate's front server on
 * 127.0.0.1:8888 (src/dev/local-site.ts), with the dev-only JWT secret from
 * netlify.toml so the gates and the functions agree.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readDatabaseConfig, type Env } from '../core/environment.js';
import { withSiteDataDir } from '../site/data-dir.js';
import { hashPassword, passwordProblem } from '../core/password.js';
import { openStore } from '../store/open-store.js';
import { devJwtSecret } from './dev-secret.js';
import { buildLocalGates } from './local-gates.js';
import { startLocalSite, type LocalSite } from './local-site.js';
import { findNetlifyCli } from './netlify-dev-process.js';
import { LOOPBACK_HOST } from './loopback-listen.js';

const DEFAULT_ADMIN_EMAIL = 'admin@example.com';
const DEFAULT_PORT = 8888;

export { buildLocalGates, devJwtSecret };

/** The loopback preload, built next to this file (dist/cli.js → dist/dev-loopback.js), or from src/ in the tests. */
export function loopbackPreloadPath(): string {
  const here = fileURLToPath(import.meta.url);
  return here.endsWith('.ts') ? join(here, '..', '..', '..', 'dist', 'dev-loopback.js') : join(here, '..', 'dev-loopback.js');
}

/** A mistake in how the dev server was started (its options, a busy port, the site's files): one line for the person. */
export class DevStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DevStartError';
  }
}

/** `npm start -- --port N` / `rolegate dev --port N`: another front port than 8888, say for a second checkout. */
function portFromArgs(argv: string[]): number {
  let values: { port?: string | undefined };
  try {
    ({ values } = parseArgs({ args: argv, options: { port: { type: 'string' } }, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new DevStartError(`${(error as Error).message.split('\n')[0]} (usage: rolegate dev [--port N])`);
  }
  if (values.port === undefined) return DEFAULT_PORT;
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new DevStartError(`--port must be a port number (got ${JSON.stringify(values.port)})`);
  return port;
}

/** Says so before anything starts when the front port is taken (another npm start, say). */
async function assertPortFree(port: number): Promise<void> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' ? new DevStartError(`port ${port} on 127.0.0.1 is in use (another rolegate dev or npm start?); stop it, or choose another with --port N`) : error);
    });
    probe.listen(port, LOOPBACK_HOST, () => probe.close(() => resolve()));
  });
}

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

/** `rolegate dev` (what `npm start` runs) in the site folder `root`: returns once the site is up, and the process runs until netlify dev exits. */
export async function startDev(argv: string[], root: string): Promise<void> {
  const port = portFromArgs(argv);
  await assertPortFree(port);
  if (!existsSync(join(root, 'netlify.toml'))) throw new DevStartError(`no netlify.toml in ${root}: run rolegate dev in the site's folder`);
  if (!findNetlifyCli(root)) throw new DevStartError('netlify-cli is not installed: npm install --save-dev netlify-cli (or npm install -g netlify-cli), then run rolegate dev again');
  const toml = readFileSync(join(root, 'netlify.toml'), 'utf8');
  const secret = devJwtSecret(toml);
  if (!secret) throw new DevStartError('netlify.toml has no [dev] jwtSecret: the local role gates need it');
  if (process.env.JWT_SECRET && process.env.JWT_SECRET !== secret) {
    console.warn('rolegate: JWT_SECRET in your environment is ignored locally; the functions sign with netlify.toml [dev] jwtSecret so the local gates accept their tokens.');
  }
  const env: Env = withSiteDataDir({ ...process.env, JWT_SECRET: secret, SITE_URL: process.env.SITE_URL ?? `http://localhost:${port}` }, root);
  const db = readDatabaseConfig(env);
  // netlify dev hands functions a NETLIFY_DB_URL of its own; naming the data
  // directory keeps them on the database seeded here.
  if (db.kind === 'embedded') env.ROLEGATE_DATA_DIR = db.dataDir;
  // Without an SMTP server, mail is caught here: the mail function prints each one with its link.
  if (!env.SMTP_URL) env.ROLEGATE_DEV_MAIL = 'terminal';
  const cost = Number(env.BCRYPT_COST ?? 11);

  // netlify dev does not run the build command: build the gates here.
  let gates;
  try {
    gates = await buildLocalGates(root, db.kind === 'embedded' ? db.dataDir : undefined);
  } catch (error) {
    throw new DevStartError(error instanceof Error ? error.message.replace(/\n$/, '') : String(error));
  }
  for (const line of gates.lines) console.warn(`rolegate: ${line}`);

  // rolegate dev owns the embedded database and shares it, so the functions and `rolegate users …`
  // in another terminal use it while the site runs (src/store/embedded-share.ts).
  let shared: SharedDatabase | undefined;
  if (db.kind === 'embedded') {
    const { openSharedEmbeddedStore } = await import('../store/embedded.js');
    shared = await openSharedEmbeddedStore(db.dataDir);
  }
  let site: LocalSite;
  try {
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
    lines.push(`rolegate: open http://localhost:${port}/ and sign in at http://localhost:${port}/login (this machine only: every server listens on 127.0.0.1)`);
    console.log(lines.join('\n'));

    site = await startLocalSite({ root, env, port, gates, preloadPath: loopbackPreloadPath(), stdio: 'inherit' });
  } catch (error) {
    await shared?.close();
    throw error;
  }
  // netlify dev announces its own, internal port; the address to open is the front server's.
  console.log(`rolegate: netlify dev runs on 127.0.0.1:${site.netlifyDevPort} behind ${site.url}; use ${site.url}`);
  const stop = (signal: NodeJS.Signals) => site.netlifyDev.kill(signal);
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  exitWithNetlifyDev(site, shared);
}

/** What rolegate dev holds open while the site runs: the embedded database it shares. */
interface SharedDatabase {
  close(): Promise<void>;
}

/** How long closing the shared database may hold up the exit (a wedged close must not keep a Ctrl-C waiting). */
const CLOSE_ON_EXIT_MS = 5000;

/**
 * When netlify dev exits: once the front server is closed, closes the shared database (its share
 * file and lock go with it, and PGlite shuts down cleanly), then exits with netlify dev's code.
 */
export function exitWithNetlifyDev(site: Pick<LocalSite, 'netlifyDev' | 'closed'>, shared: SharedDatabase | undefined, exit: (code: number) => void = (code) => process.exit(code)): void {
  site.netlifyDev.once('exit', (code: number | null) => {
    const closing = site.closed.then(() => shared?.close());
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, CLOSE_ON_EXIT_MS).unref());
    void Promise.race([closing, timeout])
      .catch((error: unknown) => console.error(`rolegate: closing the embedded database failed: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => exit(code ?? 0));
  });
}
