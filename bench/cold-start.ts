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
import { signAccessToken } from '../src/core/access-token-node.js';
import { Secret } from '../src/core/secret.js';
import { functionNames, generatedFunctionSource } from '../src/gates/functions-build.js';
import { summarize } from './stats.js';
import { addNote, type Row } from './report.js';

// 31 rounds: with 11, one busy moment on this shared machine could move a
// ~1.5 ms median enough that hello world carrying a 30 KB bundle it never
// runs came out faster than hello world itself (ratio 0.95).
const RUNS = 31;
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
  // Identity calls these; a body that is not an Identity payload, and a webhook without its signature.
  'identity-login': { event: { httpMethod: 'POST', path: '/.netlify/functions/identity-login', headers: json, body: '{"event":' }, status: 400 },
  'identity-webhook': { event: { httpMethod: 'POST', path: '/.netlify/functions/identity-webhook', headers: json, body: '{}' }, status: 401 },
};

// A login that needs the database, which refuses connections: the cost of
// loading the chosen store's driver, shown beside the goal rows, not in them.
const STORE_PROBE: Probe = {
  event: { httpMethod: 'POST', path: '/.netlify/functions/login', headers: json, body: '{"email":"a@example.com","password":"not the password"}' },
  status: 503,
};

/**
 * Beside the goal rows: whoami's first answer to a visitor who is signed in,
 * which verifies the token and so loads node:crypto (the probe above answers
 * a visitor without a session, which needs neither).
 */
function signedInProbe(jwtSecret: string): Probe {
  const { token } = signAccessToken({
    subject: { id: '6f1c1f5e-7d1a-4c55-9c53-0f8a0b9d2e11', email: 'member@example.com', roles: ['member'] },
    sessionId: '0b6e3c52-4f2e-4d7b-a1a4-3c9f6a3e5d20',
    secret: new Secret(jwtSecret),
    issuer: 'rolegate',
    ttlSeconds: 3600,
    now: Math.floor(Date.now() / 1000),
  });
  return { event: { httpMethod: 'GET', path: '/.netlify/functions/whoami', headers: { cookie: `nf_jwt=${token}` } }, status: 200 };
}

const BASE_ENV = { JWT_SECRET: 'bench-secret-0123456789-abcdefghijklmnop', SITE_URL: SITE, DB_TIMEOUT_MS: '2000', IDENTITY_WEBHOOK_SECRET: 'bench-webhook-secret' };
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
  // The site's own function (whoami), and rolegate's as `rolegate gates build` generates them.
  for (const file of readdirSync('netlify/functions')) {
    const name = file.replace(/\.ts$/, '');
    if (file.endsWith('.ts') && PROBES[name]) entries[name] = join('netlify/functions', file);
  }
  const siteConfig = JSON.parse(readFileSync('rolegate.config.json', 'utf8')) as unknown;
  for (const name of functionNames(siteConfig).filter((n) => PROBES[n])) {
    entries[name] = join(dir, `${name}.mjs`);
    writeFileSync(entries[name], generatedFunctionSource(name, siteConfig));
  }
  const external = netlifyExternals();
  const shipped: Record<string, string> = {};
  const minifiedKb: Record<string, number> = {};
  for (const [name, entry] of Object.entries(entries)) {
    shipped[name] = resolve(dir, `${name}.cjs`);
    const options: BuildOptions = { entryPoints: [entry], bundle: true, platform: 'node', format: 'cjs', target: 'node22', external, logLevel: 'error' };
    await build({ ...options, outfile: shipped[name] });
    const minified = resolve(dir, `${name}.min.cjs`);
    await build({ ...options, outfile: minified, minify: true });
    minifiedKb[name] = statSync(minified).size / 1024;
  }
  const env = { ...BASE_ENV, ...STORES.postgres };
  const targets: Record<string, Target> = {};
  for (const name of Object.keys(shipped)) targets[name] = { bundle: shipped[name]!, probe: PROBES[name] ?? PROBES.hello!, env };
  // References for the notes: hello world carrying a function's whole bundle
  // inside a function that is never called, i.e. what parsing the shipped
  // bytes costs before any of them runs.
  const parsed = ['whoami', 'login'];
  for (const name of parsed) {
    const carrier = resolve(dir, `hello-carrying-${name}.cjs`);
    writeFileSync(carrier, `"use strict";\nexports.handler = async () => ({ statusCode: 200, body: 'hello' });\nfunction neverCalled(exports, require, module) {\n${readFileSync(shipped[name]!, 'utf8')}\n}\n`);
    targets[`carrying ${name}`] = { bundle: carrier, probe: PROBES.hello!, env };
  }
  targets['whoami+session'] = { bundle: shipped.whoami!, probe: signedInProbe(BASE_ENV.JWT_SECRET), env };
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
  const signedIn = summarize(samples['whoami+session']!);
  rows.push({ section: 'cold start', name: 'whoami: load + first answer to a signed-in visitor (valid token → 200)', unit: 'ms', result: signedIn,
    baseline: { name: 'hello world', result: baseline }, ratio: signedIn.median / baseline.median });
  const shippedKb = (name: string) => statSync(shipped[name]!).size / 1024;
  for (const name of parsed) {
    const result = summarize(samples[`carrying ${name}`]!);
    rows.push({ section: 'cold start', name: `reference: hello world carrying ${name}'s bundle (${shippedKb(name).toFixed(0)} KB as shipped), never called`, unit: 'ms', result,
      baseline: { name: 'hello world', result: baseline }, ratio: result.median / baseline.median });
  }
  const median = (name: string) => summarize(samples[name]!).median;
  const ms = (n: number) => `${n.toFixed(1)} ms`;
  const h = baseline.median;
  addNote(`Cold start, where the rest goes: whoami answers a visitor without a session in ${ms(median('whoami'))} and login a malformed form in ${ms(median('login'))}, against ${ms(h)} for hello world. `
    + `Hello world carrying the same bundles (${shippedKb('whoami').toFixed(0)} KB and ${shippedKb('login').toFixed(0)} KB, not minified, as Netlify ships them) without running a line of them takes ${ms(median('carrying whoami'))} and ${ms(median('carrying login'))}: `
    + `V8 parses every byte of a script at load, so about ${ms(median('carrying whoami') - h)} and ${ms(median('carrying login') - h)} are the size of the code, and the other ${ms(median('whoami') - median('carrying whoami'))} and ${ms(median('login') - median('carrying login'))} its first run `
    + '(checking the environment, compiling each function on its first call, building the answer). '
    + `node:crypto, bcryptjs and the store drivers load on first use, so these answers do not pay for them; a signed-in visitor's first request does: ${ms(signedIn.median)}, of which loading node:crypto is about ${ms(crypto.median - h)}. `
    + `Hello world plus one HMAC is itself ${(crypto.median / h).toFixed(1)}× hello world, so on Node ${process.versions.node.split('.')[0]} no first request that checks a token can be within 1.5× (WebCrypto's HMAC, measured apart, is no quicker to a first signature).`);
  for (const store of Object.keys(STORES)) {
    const result = summarize(samples[`login+${store}`]!);
    rows.push({ section: 'cold start', name: `login: load + first answer needing the ${store} store${store === 'supabase' ? ' (postgrest-js)' : ' (pg)'} (refused → 503)`, unit: 'ms', result,
      baseline: { name: 'hello world', result: baseline }, ratio: result.median / baseline.median });
  }
  rmSync(dir, { recursive: true, force: true });
  return rows;
}
