/**
 * Cold start of each function as Netlify bundles it (esbuild, minified, the
 * netlify.toml externals): bundle size, and the time from a fresh `node`
 * process importing the bundle to its first response, with the store
 * configured but never contacted. Baseline: a hello-world function bundled
 * and measured the same way in the same run.
 */
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { join } from 'node:path';
import { summarize } from './stats.js';
import type { Row } from './report.js';

const RUNS = 7;

// A request each function answers without touching the database.
const EVENTS: Record<string, object> = {
  login: { httpMethod: 'POST', path: '/.netlify/functions/login', headers: { origin: 'https://evil.example' }, body: '{}' },
  refresh: { httpMethod: 'GET', path: '/.netlify/functions/refresh/admin/', rawUrl: 'http://localhost:8888/.netlify/functions/refresh/admin/', rawQuery: '', headers: {} },
  logout: { httpMethod: 'POST', path: '/.netlify/functions/logout', headers: { origin: 'https://evil.example' }, body: '{}' },
  whoami: { httpMethod: 'GET', path: '/.netlify/functions/whoami', headers: {} },
  hello: { httpMethod: 'GET', path: '/.netlify/functions/hello', headers: {} },
};

function timeColdStart(bundle: string, event: object): number[] {
  const probe = `
    const t0 = performance.now();
    const { handler } = await import(${JSON.stringify(bundle)});
    const response = await handler(${JSON.stringify(event)}, {});
    if (!response || typeof response.statusCode !== 'number') throw new Error('no response');
    process.stdout.write(String(performance.now() - t0));`;
  const env = { ...process.env, JWT_SECRET: 'bench-secret-0123456789-abcdefghijklmnop', DATABASE_URL: 'postgres://bench@127.0.0.1:1/none', SITE_URL: 'http://localhost:8888' };
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`cold start of ${bundle} failed: ${r.stderr}`);
    times.push(Number(r.stdout));
  }
  return times;
}

export async function benchColdStart(): Promise<Row[]> {
  // Inside the project, so the bundles' external packages resolve from its node_modules.
  mkdirSync('bench/.functions', { recursive: true });
  const dir = mkdtempSync(join('bench/.functions', 'run-'));
  const hello = join(dir, 'hello.ts');
  writeFileSync(hello, `export const handler = async () => ({ statusCode: 200, body: 'hello' });\n`);
  const entries: Record<string, string> = { hello };
  for (const file of readdirSync('netlify/functions')) {
    if (file.endsWith('.ts')) entries[file.replace(/\.ts$/, '')] = join('netlify/functions', file);
  }
  const outputs: Record<string, string> = {};
  for (const [name, entry] of Object.entries(entries)) {
    outputs[name] = resolve(dir, `${name}.mjs`);
    await build({
      entryPoints: [entry], outfile: outputs[name], bundle: true, minify: true, platform: 'node', format: 'esm', target: 'node20',
      external: ['@electric-sql/pglite'], logLevel: 'error',
      // Bundled ESM still needs require for CommonJS dependencies such as pg.
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    });
  }
  const baseline = summarize(timeColdStart(outputs.hello!, EVENTS.hello!));
  const baselineSize = statSync(outputs.hello!).size / 1024;
  const rows: Row[] = [];
  for (const name of Object.keys(outputs).filter((n) => n !== 'hello')) {
    const sizeKb = statSync(outputs[name]!).size / 1024;
    rows.push({ section: 'cold start', name: `${name}: bundle size (minified)`, unit: 'KB', result: summarize([sizeKb]),
      baseline: { name: 'hello world', result: summarize([baselineSize]) }, goal: '≤ 250 KB', met: sizeKb <= 250 });
    const result = summarize(timeColdStart(outputs[name]!, EVENTS[name] ?? EVENTS.hello!));
    const ratio = result.median / baseline.median;
    rows.push({ section: 'cold start', name: `${name}: import + first response`, unit: 'ms', result,
      baseline: { name: 'hello world', result: baseline }, ratio, goal: '≤ 1.5× hello world', met: ratio <= 1.5 });
  }
  rmSync(dir, { recursive: true, force: true });
  return rows;
}
