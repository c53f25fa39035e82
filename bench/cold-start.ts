/**
 * Cold start of each function as Netlify bundles it, and the time from a fresh
 * `node` process loading the bundle to its first response, with the store
 * configured but not contacted. Baseline: a hello-world function bundled and
 * measured the same way in the same run.
 *
 * "As Netlify bundles it" is what @netlify/zip-it-and-ship-it does with
 * `node_bundler = "esbuild"` (its bundler.js): one file per function, no code
 * splitting, not minified, the `[functions] external_node_modules` of
 * netlify.toml left out, and CommonJS for a Lambda-style (`handler`) function
 * (its getModuleFormat picks ESM only for v2 functions or behind a feature
 * flag). That bundle is the one timed. The size goal is about the minified
 * bundle, so the same build is also made minified and that size reported.
 */
import { build, type BuildOptions } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { summarize } from './stats.js';
import type { Row } from './report.js';

const RUNS = 11;
const SITE = 'http://localhost:8888';
const json = { 'content-type': 'application/json', origin: SITE };

interface Probe {
  event: object;
  /** The status a correct answer has: a probe that got another answer measured nothing. */
  status: number;
}

// A request each function answers without the database (the first three are
// real and common: a form posted with a broken body, the gate's bounce for a
// visitor without a session, a sign-out without a session).
const PROBES: Record<string, Probe> = {
  hello: { event: { httpMethod: 'GET', path: '/.netlify/functions/hello', headers: {} }, status: 200 },
  login: { event: { httpMethod: 'POST', path: '/.netlify/functions/login', headers: json, body: '{"email":' }, status: 400 },
  refresh: { event: { httpMethod: 'GET', path: '/.netlify/functions/refresh/admin/', rawUrl: `${SITE}/.netlify/functions/refresh/admin/`, rawQuery: '', headers: {} }, status: 303 },
  logout: { event: { httpMethod: 'POST', path: '/.netlify/functions/logout', headers: json, body: '{}' }, status: 200 },
  whoami: { event: { httpMethod: 'GET', path: '/.netlify/functions/whoami', headers: {} }, status: 401 },
};

// A login that needs the database, which refuses connections: the cost of
// loading the chosen store's driver, shown beside the goal rows, not in them.
const STORE_PROBE: Probe = {
  event: { httpMethod: 'POST', path: '/.netlify/functions/login', headers: json, body: '{"email":"a@example.com","password":"not the password"}' },
  status: 503,
};

const BASE_ENV = { JWT_SECRET: 'bench-secret-0123456789-abcdefghijklmnop', SITE_URL: SITE, DB_TIMEOUT_MS: '2000' };
const STORES: Record<string, Record<string, string>> = {
  postgres: { DATABASE_URL: 'postgres://bench@127.0.0.1:1/none' },
  supabase: { SUPABASE_URL: 'http://127.0.0.1:1', SUPABASE_SERVICE_ROLE_KEY: 'bench-service-role-key-0123456789' },
};

/** netlify.toml `[functions] external_node_modules`, so the bench bundles with the project's own settings. */
function netlifyExternals(): string[] {
  const toml = readFileSync('netlify.toml', 'utf8');
  const match = /^\s*external_node_modules\s*=\s*\[([^\]]*)\]/m.exec(toml);
  if (!match) return [];
  return [...match[1]!.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
}

interface Target {
  bundle: string;
  probe: Probe;
  env: Record<string, string>;
}

function coldStartOnce({ bundle, probe, env }: Target): number {
  // The bundle's path is an argument, not part of the script: node -e wraps a
  // script in which the word "crypto" appears in a function that is handed
  // require('node:crypto') (Node 20's eval_string.js, for backward
  // compatibility), so a path such as hello-crypto.cjs in the script would
  // load node:crypto before t0 and leave it out of the measurement.
  const script = `
    const t0 = performance.now();
    const { handler } = require(process.argv[1]);
    Promise.resolve(handler(${JSON.stringify(probe.event)}, {})).then((response) => {
      const elapsed = performance.now() - t0;
      if (!response || response.statusCode !== ${probe.status}) throw new Error('unexpected answer ' + JSON.stringify(response));
      process.stdout.write(String(elapsed));
    });`;
  const r = spawnSync(process.execPath, ['-e', script, bundle], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cold start of ${bundle} failed: ${r.stderr}`);
  return Number(r.stdout);
}

/**
 * Round-robin: each round starts every target once, so a burst of load from
 * elsewhere on a shared machine lands on the baseline and the functions alike
 * instead of skewing their ratio.
 */
function coldStarts(targets: Record<string, Target>): Record<string, number[]> {
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(targets).map((name) => [name, []]));
  const names = Object.keys(targets);
  for (let round = 0; round < RUNS; round++) {
    // Each round starts at another target, so no one is always first (or last) after a pause.
    for (let i = 0; i < names.length; i++) {
      const name = names[(round + i) % names.length]!;
      samples[name]!.push(coldStartOnce(targets[name]!));
    }
  }
  return samples;
}

export async function benchColdStart(): Promise<Row[]> {
  // Inside the project, so the bundles' external packages resolve from its node_modules.
  mkdirSync('bench/.functions', { recursive: true });
  const dir = mkdtempSync(join('bench/.functions', 'run-'));
  const hello = join(dir, 'hello.ts');
  writeFileSync(hello, `export const handler = async () => ({ statusCode: 200, body: 'hello' });\n`);
  // A reference, not a goal: the least a function that signs or checks a token
  // loads (node:crypto and the streams it pulls in) on top of hello world.
  const helloCrypto = join(dir, 'hello-crypto.ts');
  writeFileSync(helloCrypto, `import { createHmac } from 'node:crypto';\nexport const handler = async () => ({ statusCode: 200, body: createHmac('sha256', 'k').update('hello').digest('base64url') });\n`);
  const entries: Record<string, string> = { hello, 'hello-crypto': helloCrypto };
  for (const file of readdirSync('netlify/functions')) {
    const name = file.replace(/\.ts$/, '');
    if (file.endsWith('.ts') && PROBES[name]) entries[name] = join('netlify/functions', file);
  }
  const external = netlifyExternals();
  const shipped: Record<string, string> = {};
  const minifiedKb: Record<string, number> = {};
  for (const [name, entry] of Object.entries(entries)) {
    shipped[name] = resolve(dir, `${name}.cjs`);
    const options: BuildOptions = { entryPoints: [entry], bundle: true, platform: 'node', format: 'cjs', target: 'node20', external, logLevel: 'error' };
    await build({ ...options, outfile: shipped[name] });
    const minified = resolve(dir, `${name}.min.cjs`);
    await build({ ...options, outfile: minified, minify: true });
    minifiedKb[name] = statSync(minified).size / 1024;
  }
  const env = { ...BASE_ENV, ...STORES.postgres };
  const targets: Record<string, Target> = {};
  for (const name of Object.keys(shipped)) targets[name] = { bundle: shipped[name]!, probe: PROBES[name] ?? PROBES.hello!, env };
  for (const [store, storeEnv] of Object.entries(STORES)) targets[`login+${store}`] = { bundle: shipped.login!, probe: STORE_PROBE, env: { ...BASE_ENV, ...storeEnv } };
  const samples = coldStarts(targets);
  const baseline = summarize(samples.hello!);
  const sizeBaseline = { name: 'hello world', result: summarize([minifiedKb.hello!]) };
  const rows: Row[] = [];
  const crypto = summarize(samples['hello-crypto']!);
  rows.push({ section: 'cold start', name: 'reference: hello world + one node:crypto HMAC', unit: 'ms', result: crypto,
    baseline: { name: 'hello world', result: baseline }, ratio: crypto.median / baseline.median });
  for (const name of Object.keys(shipped).filter((n) => !n.startsWith('hello'))) {
    rows.push({ section: 'cold start', name: `${name}: bundle size (minified)`, unit: 'KB', result: summarize([minifiedKb[name]!]),
      baseline: sizeBaseline, goal: '≤ 250 KB', met: minifiedKb[name]! <= 250 });
    const result = summarize(samples[name]!);
    const ratio = result.median / baseline.median;
    rows.push({ section: 'cold start', name: `${name}: load + first response`, unit: 'ms', result,
      baseline: { name: 'hello world', result: baseline }, ratio, goal: '≤ 1.5× hello world', met: ratio <= 1.5 });
  }
  for (const store of Object.keys(STORES)) {
    const result = summarize(samples[`login+${store}`]!);
    rows.push({ section: 'cold start', name: `login: load + first answer needing the ${store} store (refused → 503)`, unit: 'ms', result,
      baseline: { name: 'hello world', result: baseline }, ratio: result.median / baseline.median });
  }
  rmSync(dir, { recursive: true, force: true });
  return rows;
}
