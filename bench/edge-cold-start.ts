/**
 * The edge gate's runtime (dist/edge-gate.js, one module with jose, cookie and
 * postgrest-js inside) in a fresh process: its size, and the time from loading
 * it to the first answer for a visitor without a session (a bounce), against
 * hello world loaded as an ES module the same way. Netlify's edge is Deno, not
 * Node: this measures what the bytes cost to parse and start, on the runtime
 * the rest of the bench uses.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bundleEdgeRuntime } from '../scripts/edge-bundle.mjs';
import { compileGates } from '../src/gates/compile.js';
import { parseGateConfig } from '../src/site-config/schema.js';
import { summarize } from './stats.js';
import type { Row } from './report.js';

const RUNS = 31;
const ENV = { JWT_SECRET: 'bench-secret-0123456789-abcdefghijklmnop', SITE_URL: 'http://localhost:8888', SUPABASE_URL: 'http://127.0.0.1:1', SUPABASE_SERVICE_ROLE_KEY: 'bench-service-role-key-0123456789' };

function firstAnswerMs(module: string, table: unknown): number {
  const script = `
    const t0 = performance.now();
    const m = await import(process.argv[1]);
    let status = 200;
    if (m.createEdgeGate) {
      const gate = m.createEdgeGate({ env: () => (${JSON.stringify(ENV)}), table: ${JSON.stringify(table)} });
      status = (await gate(new Request('http://localhost:8888/admin/'), { next: async () => new Response('page') })).status;
    }
    const elapsed = performance.now() - t0;
    if (status !== (m.createEdgeGate ? 302 : 200)) throw new Error('unexpected status ' + status);
    process.stdout.write(String(elapsed));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, module], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`edge cold start of ${module} failed: ${r.stderr}`);
  return Number(r.stdout);
}

export async function benchEdgeColdStart(): Promise<Row[]> {
  const dir = mkdtempSync(join(process.env.ROLEGATE_BENCH_TMP ?? 'bench', 'edge-'));
  const runtime = resolve(dir, 'edge-gate.js');
  await bundleEdgeRuntime(runtime);
  const hello = resolve(dir, 'hello.mjs');
  writeFileSync(hello, 'export const hello = () => new Response("hello");\n');
  const { table } = compileGates(parseGateConfig({ mode: 'edge', gates: [{ path: '/admin/*', roles: ['admin'] }] }));
  const samples = { hello: [] as number[], edge: [] as number[] };
  for (let round = 0; round < RUNS; round++) {
    if (round % 2) samples.edge.push(firstAnswerMs(runtime, table));
    samples.hello.push(firstAnswerMs(hello, table));
    if (!(round % 2)) samples.edge.push(firstAnswerMs(runtime, table));
  }
  const sizeKb = statSync(runtime).size / 1024;
  rmSync(dir, { recursive: true, force: true });
  const baseline = summarize(samples.hello);
  const edge = summarize(samples.edge);
  return [
    { section: 'cold start', name: 'edge gate runtime (postgrest-js, jose and cookie inside): bundle size (minified)', unit: 'KB', result: summarize([sizeKb]) },
    { section: 'cold start', name: 'edge gate runtime: load + first bounce, fresh Node process', unit: 'ms', result: edge,
      baseline: { name: 'hello world (ES module)', result: baseline }, ratio: edge.median / baseline.median },
  ];
}
