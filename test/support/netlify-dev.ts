/**
 * Runs the real `netlify dev --offline` on this checkout for end-to-end
 * suites: Netlify's own redirect engine and role gates, and the functions as
 * Netlify bundles them. The JWT secret and role path come from netlify.toml
 * `[dev]`, exactly as for `npm start`, and like `npm start` it listens on
 * 127.0.0.1 only (the loopback preload, src/dev/netlify-dev-process.ts). A site
 * in edge mode runs as `npm start` runs it: the generated edge gate in the
 * front server, netlify dev behind it (src/dev/local-site.ts).
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devJwtSecret } from '../../src/dev/dev-secret.js';
import { buildLocalGates } from '../../src/dev/local-gates.js';
import { startLocalSite } from '../../src/dev/local-site.js';
import { freeInnerPorts, spawnNetlifyDev } from '../../src/dev/netlify-dev-process.js';
import { loopbackPreloadPath } from '../../src/dev/start.js';
import { loadGateConfig } from '../../src/gates/compile.js';
import { buildFunctions } from '../../src/gates/functions-build.js';
import { freePort } from './postgres-cluster.js';
import { childLogs } from './child-logs.js';

export interface NetlifyDev {
  url: string;
  jwtSecret: string;
  output(): string;
  stop(): Promise<void>;
}

const ROOT = join(import.meta.dirname, '..', '..');

export function repoDevJwtSecret(root = ROOT): string {
  const secret = devJwtSecret(readFileSync(join(root, 'netlify.toml'), 'utf8'));
  if (!secret) throw new Error('netlify.toml has no [dev] jwtSecret');
  return secret;
}

/**
 * A throwaway copy of the site (sources copied, node_modules shared) in a
 * fresh git repository, so a second `netlify dev` never shares .netlify/ with
 * another suite's. `from` is the checkout (the bench, bundled elsewhere,
 * passes it); without edge functions netlify dev never tries to fetch Deno.
 */
export function copySite(options: { from?: string; edgeFunctions?: boolean; mode?: 'edge' | 'redirects' } = {}): { root: string; remove(): void } {
  const from = options.from ?? ROOT;
  const root = mkdtempSync(join(tmpdir(), 'rolegate-site-'));
  for (const entry of ['netlify', 'src', 'supabase', 'public', 'rolegate.config.json', 'netlify.toml', 'package.json', 'tsconfig.json', 'manifest.yml']) {
    cpSync(join(from, entry), join(root, entry), { recursive: true });
  }
  if (options.edgeFunctions === false) rmSync(join(root, 'netlify', 'edge-functions'), { recursive: true, force: true });
  const configPath = join(root, 'rolegate.config.json');
  // The starter's gates in another mode.
  if (options.mode) writeFileSync(configPath, JSON.stringify({ ...JSON.parse(readFileSync(configPath, 'utf8')), mode: options.mode }, null, 2));
  symlinkSync(join(from, 'node_modules'), join(root, 'node_modules'));
  // dist/ is what the generated functions import, through package.json "exports" (rolegate/functions/…).
  symlinkSync(join(from, 'dist'), join(root, 'dist'));

  spawnSync('git', ['init', '-q'], { cwd: root });
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/** dist/dev-loopback.js: found from src/ in the suites, from the working directory in the bench (bundled elsewhere). */
function preloadPath(): string {
  const candidates = [loopbackPreloadPath(), join(process.cwd(), 'dist', 'dev-loopback.js')];
  return candidates.find((path) => existsSync(path)) ?? candidates[0]!;
}

/** `port`: the site's own, when something must know its origin before it starts (a provider's redirect URI). */
export async function startNetlifyDev(env: Record<string, string>, cwd = ROOT, port?: number): Promise<NetlifyDev> {
  port ??= await freePort();
  const jwtSecret = repoDevJwtSecret(cwd);
  let log = '';
  const childEnv = { ...process.env, CI: 'true', JWT_SECRET: jwtSecret, SITE_URL: `http://localhost:${port}`, ...env };
  const spawnOptions = { root: cwd, env: childEnv, port, preloadPath: preloadPath(), stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'], detached: true };
  const { config } = loadGateConfig(readFileSync(join(cwd, 'rolegate.config.json'), 'utf8'));
  let child: ChildProcess;
  let closeFront = async () => {};
  if (config.mode === 'edge') {
    // The edge gate as npm start runs it; netlify dev's own port stays internal.
    const gates = await buildLocalGates(cwd);
    const site = await startLocalSite({ ...spawnOptions, gates });
    child = site.netlifyDev;
    closeFront = () => site.front.close();
  } else {
    // A copy of the starter (it links the package's dist/) gets its functions as a deploy does.
    if (existsSync(join(cwd, 'dist'))) await buildFunctions({ siteRoot: cwd, rawConfig: JSON.parse(readFileSync(join(cwd, 'rolegate.config.json'), 'utf8')), functionsDir: 'netlify/functions' });
    child = spawnNetlifyDev({ ...spawnOptions, innerPorts: await freeInnerPorts() });
  }
  child.stdout?.on('data', (d) => (log += d));
  child.stderr?.on('data', (d) => (log += d));
  const url = `http://localhost:${port}`;
  const stop = async () => {
    childLogs.push(log);
    if (child.exitCode !== null || !child.pid) return closeFront();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
    const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 5000);
    await exited;
    clearTimeout(timer);
    await closeFront();
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`netlify dev exited early:\n${log}`);
    try {
      const res = await fetch(`${url}/`, { redirect: 'manual' });
      await res.arrayBuffer();
      // 502: the front server of an edge-mode site is up, netlify dev behind it not yet.
      if (res.status !== 502) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`netlify dev did not answer within 60 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, jwtSecret, output: () => log, stop };
}
