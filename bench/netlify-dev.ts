/**
 * `netlify dev --offline` on a throwaway copy of this site, for the refresh
 * load over HTTP. Started as test/support/netlify-dev.ts starts it (whose
 * paths are relative to its own file, which bundling into the bench moves):
 * a copy in a fresh git repository so its .netlify/ is its own, edge
 * functions off (no Deno download offline), CI=true so it skips telemetry.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../test/support/postgres-cluster.js';

export interface BenchNetlifyDev {
  url: string;
  stop(): Promise<void>;
}

export async function startBenchNetlifyDev(env: Record<string, string>): Promise<BenchNetlifyDev> {
  const root = resolve('.');
  const site = mkdtempSync(join(tmpdir(), 'rolegate-bench-site-'));
  for (const entry of ['netlify', 'src', 'supabase', 'public', 'rolegate.config.json', 'netlify.toml', 'package.json', 'tsconfig.json']) {
    cpSync(join(root, entry), join(site, entry), { recursive: true });
  }
  // Only the functions: the bench needs no edge gate, and an edge function folder would make netlify dev fetch Deno.
  rmSync(join(site, 'netlify', 'edge-functions'), { recursive: true, force: true });
  symlinkSync(join(root, 'node_modules'), join(site, 'node_modules'));
  spawnSync('git', ['init', '-q'], { cwd: site });
  const port = await freePort();
  const url = `http://localhost:${port}`;
  let log = '';
  const child = spawn(join(site, 'node_modules', '.bin', 'netlify'), ['dev', '--offline', '--internal-disable-edge-functions', '--port', String(port)], {
    cwd: site, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CI: 'true', SITE_URL: url, ROLEGATE_DATA_DIR: '', NETLIFY_DB_URL: '', SUPABASE_URL: '', ...env },
  });
  child.stdout?.on('data', (d) => (log += d));
  child.stderr?.on('data', (d) => (log += d));
  const stop = async () => {
    if (child.exitCode === null && child.pid) {
      const exited = new Promise((done) => child.once('exit', done));
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
      const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ } }, 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(site, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`netlify dev exited early:\n${log}`);
    try {
      await (await fetch(`${url}/`, { redirect: 'manual' })).arrayBuffer();
      return { url, stop };
    } catch { /* not answering yet */ }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`netlify dev did not answer within 60 s:\n${log}`);
    }
    await new Promise((done) => setTimeout(done, 250));
  }
}
