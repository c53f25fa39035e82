/**
 * Hundreds of function instances against a server that allows few
 * connections: 300 simulated instances, each with its own pool of one
 * connection and its own handlers, spread over a few child processes
 * (bench/pooler-worker.ts), sign in and then refresh in a closed loop. Once
 * through PgBouncer in transaction mode, once straight to the server, both
 * against the section's own PostgreSQL with max_connections=40. Through the
 * pooler every answer must be 200; straight to the server most instances find
 * no free connection ("too many clients", which the store answers as 503).
 */
import { build } from 'esbuild';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initCluster } from '../test/support/postgres-cluster.js';
import { startPgBouncer, type PgBouncer } from '../test/support/pgbouncer.js';
import { migratePostgres, openPostgresStore } from '../src/store/postgres.js';
import { BENCH_PASSWORD, benchUsers } from './database.js';
import type { ErrorKind, WorkerCounts, WorkerOrders } from './pooler-worker.js';
import { percentile, summarize, type Summary } from './stats.js';
import { addNote, type Row } from './report.js';

const INSTANCES = 300;
const PROCESSES = 5;
const SECONDS = 10;
const MAX_CONNECTIONS = 40;
const POOLER_POOL_SIZE = 30;
/** Hashing is not what is measured: the lowest cost bcrypt allows, for these users and their instances alike. */
const BCRYPT_COST = 4;
/** After an error a client waits before trying again, as a browser would: without it the refused instances only measure how fast the server forks and refuses. */
const ERROR_PAUSE_MS = 200;

interface LoadResult {
  requests: number;
  ok: number;
  falseReuse: number;
  errors: Record<ErrorKind, number>;
  examples: Partial<Record<ErrorKind, string>>;
  okPerSecond: Summary;
  refreshLatency: Summary;
  refreshP99: number;
  signInP50: number;
  signInP99: number;
  servedInstances: number;
  /** Lines the instances wrote to stderr (the error responder logs each 503's cause), and the first of them. */
  logLines: number;
  firstLogLine?: string;
}

const errorCount = (result: LoadResult) => Object.values(result.errors).reduce((a, b) => a + b, 0);

/** The worker as one ESM file beside the project's node_modules: the bench itself runs from a bundle of main.ts only. */
async function bundleWorker(dir: string): Promise<string> {
  const outfile = resolve(dir, 'pooler-worker.mjs');
  await build({ entryPoints: ['bench/pooler-worker.ts'], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node22', packages: 'external', logLevel: 'warning' });
  return outfile;
}

function merge(parts: WorkerCounts[], log: { lines: number; start: string }): LoadResult {
  const refreshes = parts.flatMap((p) => p.refreshLatencies);
  const signIns = parts.flatMap((p) => p.signInLatencies);
  const okPerSecond = Array.from({ length: SECONDS }, (_, s) => parts.reduce((sum, p) => sum + (p.okPerSecond[s] ?? 0), 0));
  const errors: Record<ErrorKind, number> = { 'connection refused': 0, 'too many clients': 0, timeout: 0, other: 0 };
  const examples: Partial<Record<ErrorKind, string>> = {};
  for (const part of parts) {
    for (const kind of Object.keys(errors) as ErrorKind[]) errors[kind] += part.errors[kind];
    for (const [kind, text] of Object.entries(part.examples) as [ErrorKind, string][]) examples[kind] ??= text;
  }
  const sum = (key: 'requests' | 'ok' | 'falseReuse' | 'servedInstances') => parts.reduce((total, p) => total + p[key], 0);
  return {
    requests: sum('requests'), ok: sum('ok'), falseReuse: sum('falseReuse'), servedInstances: sum('servedInstances'), errors, examples,
    okPerSecond: summarize(okPerSecond), refreshLatency: summarize(refreshes), refreshP99: percentile(refreshes, 0.99),
    signInP50: percentile(signIns, 0.5), signInP99: percentile(signIns, 0.99), logLines: log.lines, firstLogLine: log.start.split('\n')[0] || undefined,
  };
}

/** The child's next message; a child that exits first fails the run. */
function reply(child: ChildProcess): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const exited = (code: number | null) => reject(new Error(`pooler worker exited with ${code} before answering`));
    child.once('exit', exited);
    child.once('message', (message) => {
      child.off('exit', exited);
      resolve(message);
    });
  });
}

/** Forks the processes, gives each its share of the users, starts them together and collects their counts. */
async function runLoad(workerFile: string, connectionString: string, emails: string[]): Promise<LoadResult> {
  const children = Array.from({ length: PROCESSES }, () => fork(workerFile, [], { stdio: ['ignore', 'inherit', 'pipe', 'ipc'] }));
  // Thousands of lines when the server refuses connections: counted for the note, not printed.
  const log = { lines: 0, start: '' };
  for (const child of children) {
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      log.lines += chunk.split('\n').length - 1;
      if (log.start.length < 1000) log.start += chunk;
    });
  }
  try {
    const ready = children.map(reply);
    children.forEach((child, p) => {
      const orders: WorkerOrders = { connectionString, emails: emails.filter((_, i) => i % PROCESSES === p), password: BENCH_PASSWORD, bcryptCost: BCRYPT_COST, errorPauseMs: ERROR_PAUSE_MS };
      child.send({ orders });
    });
    await Promise.all(ready);
    const answers = children.map(reply) as Promise<{ counts: WorkerCounts }>[];
    const go = { startAt: Date.now() + 200, seconds: SECONDS };
    for (const child of children) child.send({ go });
    return merge((await Promise.all(answers)).map((a) => a.counts), log);
  } catch (error) {
    throw new Error(`${(error as Error).message}; its log began: ${log.start.slice(0, 500) || 'nothing'}`);
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
  }
}

function describe(label: string, result: LoadResult): string {
  const kinds = (Object.entries(result.errors) as [ErrorKind, number][]).map(([kind, n]) => `${kind} ${n.toLocaleString('en-US')}`).join(', ');
  const examples = Object.entries(result.examples).map(([kind, text]) => `${kind}: “${text}”`).join('; ');
  return `${label}: ${result.requests.toLocaleString('en-US')} requests, ${result.ok.toLocaleString('en-US')} answered 200, `
    + `${result.servedInstances} of ${INSTANCES} instances got a 200 within the load; sign-in latency p50 ${result.signInP50.toFixed(0)} ms, p99 ${result.signInP99.toFixed(0)} ms; `
    + `errors ${kinds}${examples ? ` (first of each: ${examples})` : ''}; false reuse ${result.falseReuse}; `
    + `${result.logLines.toLocaleString('en-US')} lines logged by the instances${result.firstLogLine ? `, the first “${result.firstLogLine.slice(0, 200)}”` : ''}.`;
}

function rows(pooled: LoadResult, direct: LoadResult): Row[] {
  const section = 'pooler load';
  const answered = (r: LoadResult) => r.requests > INSTANCES;
  const poolerThroughput = { name: 'through PgBouncer', result: pooled.okPerSecond };
  return [
    { section, name: 'through PgBouncer: answers (200) per second', unit: 'req/s', result: pooled.okPerSecond },
    { section, name: 'through PgBouncer: refresh latency p50 (spread p10–p90)', unit: 'ms', result: pooled.refreshLatency },
    { section, name: 'through PgBouncer: refresh latency p99', unit: 'ms', result: summarize([pooled.refreshP99]) },
    { section, name: `through PgBouncer: sign-in latency p99 (${INSTANCES} at once, cold pools)`, unit: 'ms', result: summarize([pooled.signInP99]) },
    { section, name: 'through PgBouncer: errors', unit: 'count', result: summarize([errorCount(pooled)]), goal: 'zero errors', met: errorCount(pooled) === 0 && answered(pooled) },
    { section, name: 'through PgBouncer: false reuse (401 or refresh_token_reused)', unit: 'count', result: summarize([pooled.falseReuse]), goal: 'zero false reuse', met: pooled.falseReuse === 0 && answered(pooled) },
    { section, name: 'straight to the server: answers (200) per second', unit: 'req/s', result: direct.okPerSecond,
      baseline: poolerThroughput, ratio: direct.okPerSecond.median / pooled.okPerSecond.median },
    { section, name: 'straight to the server: errors', unit: 'count', result: summarize([errorCount(direct)]) },
    { section, name: 'straight to the server: connection errors (too many clients, SQLSTATE 53300 → 503)', unit: 'count', result: summarize([direct.errors['too many clients']]) },
  ];
}

export async function benchPoolerLoad(): Promise<Row[]> {
  const cluster = await initCluster('rolegate-pooler-', [`max_connections=${MAX_CONNECTIONS}`, 'synchronous_commit=off']);
  mkdirSync('bench/.functions', { recursive: true });
  const dir = mkdtempSync(join('bench/.functions', 'pooler-'));
  let bouncer: PgBouncer | undefined;
  try {
    cluster.start();
    await migratePostgres(cluster.adminUrl);
    const setup = openPostgresStore({ connectionString: cluster.adminUrl });
    const users = await benchUsers(setup, INSTANCES, BCRYPT_COST, 'pooler').finally(() => setup.close());
    const emails = users.map((u) => u.email);
    const workerFile = await bundleWorker(dir);
    bouncer = await startPgBouncer({ serverUrl: cluster.adminUrl, poolSize: POOLER_POOL_SIZE, maxClients: INSTANCES * 2 });
    const pooled = await runLoad(workerFile, bouncer.url(cluster.adminUrl), emails);
    // Stopped first: its server connections would otherwise hold 30 of the 40 slots.
    await bouncer.stop();
    bouncer = undefined;
    const direct = await runLoad(workerFile, cluster.adminUrl, emails);
    addNote(`Pooler load: ${INSTANCES} simulated function instances (each its own store with a pool of 1 connection, and its own login and refresh handlers) in ${PROCESSES} processes, `
      + `each instance signing its user in (again after an error, until it gets in) and then refreshing in a closed loop for ${SECONDS} s, pausing ${ERROR_PAUSE_MS} ms after an error; `
      + `against a PostgreSQL with max_connections=${MAX_CONNECTIONS}, once through PgBouncer (transaction mode, pool size ${POOLER_POOL_SIZE}) and once straight to it. `
      + `The users' passwords are hashed at bcrypt cost ${BCRYPT_COST}, and the instances are configured with that cost, because hashing is not what is measured. `
      + `${describe('Through PgBouncer', pooled)} ${describe('Straight to the server', direct)}`);
    return rows(pooled, direct);
  } finally {
    await bouncer?.stop();
    try { cluster.stopImmediately(); } catch { /* already down */ }
    rmSync(cluster.dir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}
