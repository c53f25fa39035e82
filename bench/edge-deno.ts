/**
 * The edge gate under Deno, the runtime of Netlify's edge: a signed-in visitor of a gated
 * path let through to `next()`, against the floor of that answer, a bare jose `jwtVerify` of
 * the same token. Both run in one Deno process (bench/edge-deno-harness.mjs) in alternating
 * rounds; jose comes bundled the way the gate's runtime bundles it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import gateConfig from '../rolegate.config.json' with { type: 'json' };
import { bundleEdgeRuntime } from '../scripts/edge-bundle.mjs';
import { nowSeconds, signAccessTokenWithJose } from '../src/core/access-token.js';
import { Secret } from '../src/core/secret.js';
import { compileGates } from '../src/gates/compile.js';
import { parseGateConfig } from '../src/site-config/schema.js';
import { summarize } from './stats.js';
import { addNote, type Row } from './report.js';

const ROUNDS = 8;
const ROUND_MS = 500;
const WARMUP_MS = 300;
const PATH = '/admin/';
const SUBJECT = '6f0e6c1e-0000-4000-8000-000000000000';
const ENV = { JWT_SECRET: 'bench-secret-0123456789-abcdefghijklmnop', SITE_URL: 'http://localhost:8888', SUPABASE_URL: 'http://127.0.0.1:1', SUPABASE_SERVICE_ROLE_KEY: 'bench-service-role-key-0123456789' };
// Resolved from bench/ (the bundled bench runs from bench/.main.bundle.mjs).
const DENO = fileURLToPath(new URL('../node_modules/.bin/deno', import.meta.url));
const HARNESS = fileURLToPath(new URL('./edge-deno-harness.mjs', import.meta.url));

interface DenoResult { deno: string; v8: string; rates: { gate: number[]; jose: number[] } }

/** jose alone, bundled with the options scripts/edge-bundle.mjs gives the gate's runtime. */
async function bundleJose(outfile: string): Promise<void> {
  await build({
    stdin: { contents: "export { jwtVerify } from 'jose';", resolveDir: process.cwd(), loader: 'js' },
    outfile, bundle: true, platform: 'neutral', format: 'esm', target: 'es2022',
    mainFields: ['module', 'main'], conditions: ['worker', 'import'], minify: true, logLevel: 'warning',
  });
}

export async function benchEdgeDeno(): Promise<Row[]> {
  const dir = resolve(mkdtempSync(join(process.env.ROLEGATE_BENCH_TMP ?? 'bench', 'edge-deno-')));
  try {
    const runtime = join(dir, 'edge-gate.js');
    const jose = join(dir, 'jose.js');
    await bundleEdgeRuntime(runtime);
    await bundleJose(jose);
    const { table } = compileGates(parseGateConfig(gateConfig));
    const { token } = await signAccessTokenWithJose({
      subject: { id: SUBJECT, email: 'bench@example.com', roles: ['admin', 'member'] },
      sessionId: '7a1d9c1e-0000-4000-8000-000000000000', secret: new Secret(ENV.JWT_SECRET), issuer: 'rolegate', ttlSeconds: 900, now: nowSeconds(),
    });
    const inputPath = join(dir, 'input.json');
    writeFileSync(inputPath, JSON.stringify({
      runtime, jose, env: ENV, table, token, secret: ENV.JWT_SECRET, subject: SUBJECT, url: `${ENV.SITE_URL}${PATH}`,
      pageBody: 'the static page', rounds: ROUNDS, roundMs: ROUND_MS, warmupMs: WARMUP_MS,
    }));
    // No --allow-net: a signed-in visitor must be answered without reaching the store.
    const args = ['run', '--no-config', '--no-lock', '--no-remote', '--no-npm', '--no-prompt', `--allow-read=${dir}`, HARNESS, inputPath];
    const r = spawnSync(DENO, args, { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: dir, DENO_DIR: join(dir, '.deno'), NO_COLOR: '1' } });
    if (r.status !== 0) throw new Error(`edge gate under Deno failed (exit ${r.status}):\n${r.stderr}`);
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as DenoResult;

    const gate = summarize(result.rates.gate);
    const floor = summarize(result.rates.jose);
    const ratio = gate.median / floor.median;
    addNote(`verification, edge gate under Deno: deno ${result.deno} (V8 ${result.v8}), one process, ${ROUNDS} alternating rounds of ${ROUND_MS / 1000} s each after ${WARMUP_MS / 1000} s of warm-up; `
      + `GET ${PATH} with an HS256 nf_jwt (roles admin, member; ${token.length} characters) through createEdgeGate with rolegate.config.json's compiled table, the answer checked to be next()'s page on every call; `
      + `the floor is jose's jwtVerify of the same token with algorithms ['HS256'] and the secret imported once as a CryptoKey, as the gate does.`);
    return [{
      section: 'verification', name: 'edge gate under Deno, signed-in visitor let through', unit: 'ops/s', result: gate,
      baseline: { name: 'bare jose jwtVerify under Deno', result: floor }, ratio, goal: '≥ 0.5 of a bare jose verify', met: ratio >= 0.5,
    }];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
