/**
 * Refresh under load against real PostgreSQL: 200 signed-in sessions, each
 * refreshing in a loop (each request carries the refresh cookie its previous
 * answer set, as a browser does) for 10 s. Once in-process through the
 * refresh function's own handler and wiring (functionRuntime: the store's default pool, the
 * prebuilt gate table), once over HTTP through `netlify dev` with autocannon.
 * Every answer must be 200: an error or a reuse detection (a session can
 * never reuse a token here, so any detection is a false one) is counted.
 * Baseline: `select 1` through a pg pool of the same size, same concurrency.
 */
import autocannon from 'autocannon';
import { resolve } from 'node:path';
import pg from 'pg';
import { POOL_DEFAULTS, openPostgresStore } from '../src/store/postgres.js';
import { newRefreshToken, refreshTokenHash } from '../src/core/refresh-token.js';
import type { HandlerEvent, HandlerResponse } from '@netlify/functions';
import gateConfig from '../rolegate.config.json' with { type: 'json' };
import { compileSiteConfig } from '../src/site-config/compile.js';
import { refreshHandler } from '../src/auth/handlers.js';
import { functionRuntime } from '../src/auth/runtime.js';
import { refreshCookie } from '../src/http/cookies.js';
import { benchDatabaseUrl, benchSessions } from './database.js';
import { copySite, startNetlifyDev } from '../test/support/netlify-dev.js';
import { percentile, summarize, type Summary } from './stats.js';
import { addNote, type Row } from './report.js';

const SESSIONS = 200;
const SECONDS = 10;
const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';
const COOKIE = refreshCookie({}).name;
const POOL_SIZE = POOL_DEFAULTS.maxConnections; // what a function instance opens

interface LoadResult {
  perSecond: Summary;
  latency: Summary;
  p99: number;
  requests: number;
  errors: number;
  falseReuse: number;
}

/** Runs `loops` concurrent request loops for `seconds`; `once` answers whether its request succeeded and how. */
async function closedLoop(loops: number, seconds: number, once: (loop: number) => Promise<'ok' | 'reused' | 'error'>): Promise<LoadResult> {
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const latencies: number[] = [];
  const buckets = new Array<number>(seconds).fill(0);
  let errors = 0;
  let falseReuse = 0;
  await Promise.all(Array.from({ length: loops }, async (_, loop) => {
    while (performance.now() < deadline) {
      const start = performance.now();
      const outcome = await once(loop);
      const end = performance.now();
      latencies.push(end - start);
      const second = Math.floor((end - started) / 1000);
      if (second < seconds) buckets[second]! += 1;
      if (outcome === 'reused') falseReuse += 1;
      if (outcome !== 'ok') errors += 1;
    }
  }));
  return { perSecond: summarize(buckets), latency: summarize(latencies), p99: percentile(latencies, 0.99), requests: latencies.length, errors, falseReuse };
}

/** The handler's goal: a refresh is one round trip, so it should come within a third of a bare `select 1` through the same pool. */
const HANDLER_FLOOR_GOAL = 0.3;

function rows(label: string, result: LoadResult, baseline?: { name: string; result: Summary }, floorGoal?: number): Row[] {
  const section = 'refresh load';
  const ratio = baseline ? result.perSecond.median / baseline.result.median : undefined;
  return [
    { section, name: `${label}: refreshes per second`, unit: 'req/s', result: result.perSecond,
      ...(baseline ? { baseline, ratio } : {}),
      ...(floorGoal !== undefined && ratio !== undefined ? { goal: `≥ ${floorGoal} of the floor`, met: ratio >= floorGoal } : {}) },
    { section, name: `${label}: latency p50 (spread p10–p90)`, unit: 'ms', result: result.latency },
    { section, name: `${label}: latency p99`, unit: 'ms', result: summarize([result.p99]) },
    { section, name: `${label}: errors in ${result.requests.toLocaleString('en-US')} refreshes`, unit: 'count', result: summarize([result.errors]), goal: '0', met: result.errors === 0 && result.requests > SESSIONS },
    { section, name: `${label}: false reuse detections`, unit: 'count', result: summarize([result.falseReuse]), goal: '0', met: result.falseReuse === 0 && result.requests > SESSIONS },
  ];
}

function refreshedToken(setCookies: unknown): string | undefined {
  const list = Array.isArray(setCookies) ? setCookies : typeof setCookies === 'string' ? [setCookies] : [];
  for (const cookie of list as string[]) {
    if (cookie.startsWith(`${COOKIE}=`)) return cookie.slice(COOKIE.length + 1).split(';')[0];
  }
  return undefined;
}

function outcomeOf(status: number, body: string): 'ok' | 'reused' | 'error' {
  if (status === 200) return 'ok';
  return body.includes('refresh_token_reused') ? 'reused' : 'error';
}

async function baselineSelect(url: string): Promise<Summary> {
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE });
  try {
    const result = await closedLoop(SESSIONS, 3, async () => ((await pool.query('select 1')).rowCount === 1 ? 'ok' : 'error'));
    return result.perSecond;
  } finally {
    await pool.end();
  }
}

/** A reference's rate, only if every one of its calls did what it stands for: a failing reference would look fast. */
function referenceRate(result: LoadResult, what: string): Summary {
  if (result.errors > 0) throw new Error(`bench reference ${what}: ${result.errors} of ${result.requests} calls failed`);
  return result.perSecond;
}

/**
 * The least a rotation writes, as one statement: the presented token's row marked used and
 * its successor's row inserted, in a table shaped like rolegate.refresh_tokens (the same
 * unique and partial indexes), sent as the store sends its calls. No locks, no checks.
 */
async function leastRotationWrites(url: string): Promise<Summary> {
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE });
  try {
    await pool.query(`drop table if exists bench_rotation_writes;
      create table bench_rotation_writes (
        id bigint generated always as identity primary key, token_hash text not null unique, session_id uuid not null,
        parent_id bigint, expires_at timestamptz not null, used_at timestamptz);
      create index on bench_rotation_writes (session_id);
      create unique index on bench_rotation_writes (parent_id) where parent_id is not null;`);
    const current = (await pool.query<{ id: string }>(`insert into bench_rotation_writes (token_hash, session_id, expires_at)
      select md5(g::text) || md5(g::text), gen_random_uuid(), now() + interval '1 hour' from generate_series(1, ${SESSIONS}) g returning id`)).rows.map((r) => r.id);
    const result = await closedLoop(SESSIONS, 3, async (loop) => {
      const next = await pool.query(`set local statement_timeout = 5000;
        with used as (update bench_rotation_writes set used_at = clock_timestamp() where id = ${current[loop]} returning id, session_id)
        insert into bench_rotation_writes (token_hash, session_id, parent_id, expires_at)
        select '${refreshTokenHash(newRefreshToken())}', session_id, id, now() + interval '1 hour' from used returning id`) as unknown as Array<pg.QueryResult<{ id: string }>>;
      const id = next[1]?.rows[0]?.id;
      if (!id) return 'error';
      current[loop] = id;
      return 'ok';
    });
    return referenceRate(result, 'the least rotation writes');
  } finally {
    await pool.query('drop table if exists bench_rotation_writes');
    await pool.end();
  }
}

/** rotate_refresh_token through the store alone (its own pool, the functions' size): the handler's one round trip without the handler. */
async function storeRotationAlone(url: string): Promise<Summary> {
  const store = openPostgresStore({ connectionString: url });
  try {
    const hashes = (await benchSessions(url, SESSIONS, 'store-rotate')).map(refreshTokenHash);
    const result = await closedLoop(SESSIONS, 3, async (loop) => {
      const successorHash = refreshTokenHash(newRefreshToken());
      const rotated = await store.rotateRefreshToken({ tokenHash: hashes[loop]!, successorHash, refreshTtlSeconds: 3600, graceSeconds: 10, client: 'bench' });
      if (rotated.status !== 'rotated') return rotated.status === 'reused' ? 'reused' : 'error';
      hashes[loop] = successorHash;
      return 'ok';
    });
    return referenceRate(result, 'rotate_refresh_token through the store');
  } finally {
    await store.close();
  }
}

async function throughHandler(url: string): Promise<LoadResult> {
  const site = 'https://site.example';
  const handler = refreshHandler(functionRuntime({ JWT_SECRET: SECRET, SITE_URL: site, DATABASE_URL: url }, gateConfig, compileSiteConfig(gateConfig)));
  const tokens = await benchSessions(url, SESSIONS, 'handler');
  return closedLoop(SESSIONS, SECONDS, async (loop) => {
    const event = {
      httpMethod: 'POST', path: '/.netlify/functions/refresh', rawUrl: `${site}/.netlify/functions/refresh`, rawQuery: '',
      headers: { origin: site, cookie: `${COOKIE}=${tokens[loop]}` }, body: null, isBase64Encoded: false,
    } as unknown as HandlerEvent;
    const response = (await handler(event)) as HandlerResponse;
    const next = refreshedToken(response.multiValueHeaders?.['Set-Cookie']);
    if (response.statusCode === 200 && next) tokens[loop] = next;
    return outcomeOf(response.statusCode, String(response.body ?? ''));
  });
}

async function throughNetlifyDev(url: string): Promise<LoadResult> {
  const tokens = await benchSessions(url, SESSIONS, 'netlify-dev');
  // A copy of this checkout in redirects mode: what is measured is the refresh function behind netlify dev.
  const site = copySite({ from: resolve('.'), edgeFunctions: false, mode: 'redirects' });
  const dev = await startNetlifyDev({ JWT_SECRET: SECRET, DATABASE_URL: url, DB_TIMEOUT_MS: '20000', ROLEGATE_DATA_DIR: '', NETLIFY_DB_URL: '', SUPABASE_URL: '' }, site.root)
    .catch((error: unknown) => {
      site.remove();
      throw error;
    });
  try {
    // One request first, so the function is bundled and loaded before the clock starts.
    const warm = await fetch(`${dev.url}/.netlify/functions/refresh`, { method: 'POST', headers: { origin: dev.url } });
    if (warm.status !== 401) throw new Error(`netlify dev refresh without a session answered ${warm.status}`);
    let errors = 0;
    let falseReuse = 0;
    let nextSession = 0;
    // Timed here, between a connection's consecutive answers: a session's
    // refresh cycle, which is what a user waits for in a closed loop.
    const cycles: number[] = [];
    let answered = 0;
    const headersFor = (token: string) => ({ origin: dev.url, cookie: `${COOKIE}=${token}` });
    // One session per connection, kept on the client: autocannon clears a
    // request's context every time it loops over its request list.
    const result = await autocannon({
      url: `${dev.url}/.netlify/functions/refresh`,
      connections: SESSIONS,
      duration: SECONDS,
      method: 'POST',
      setupClient: (client) => {
        const session = nextSession++;
        let status = 0;
        let previous: number | undefined;
        client.setHeaders(headersFor(tokens[session]!));
        // At run time the event carries the parser's view (status and raw header list), not what @types/autocannon says.
        const onHeaders = (response: { statusCode: number; headers: string[] }) => {
          status = response.statusCode;
          const now = performance.now();
          if (previous !== undefined) cycles.push(now - previous);
          previous = now;
          answered += 1;
          const setCookies = response.headers.filter((_, i) => i % 2 === 1 && response.headers[i - 1]!.toLowerCase() === 'set-cookie');
          const next = refreshedToken(setCookies);
          if (status === 200 && next) {
            tokens[session] = next;
            // Rebuilt now, before autocannon sends this connection's next request.
            client.setHeaders(headersFor(next));
          } else {
            errors += 1;
          }
        };
        client.on('headers', onHeaders as unknown as (headers: import('node:http').IncomingHttpHeaders) => void);
        client.on('body', (chunk: Buffer) => {
          if (status !== 200 && chunk.includes('refresh_token_reused')) falseReuse += 1;
        });
      },
    });
    addNote(`Refresh through netlify dev: autocannon sent ${result.requests.sent.toLocaleString('en-US')} requests in ${result.duration} s and ${answered.toLocaleString('en-US')} were answered (${result.timeouts} timeouts, ${result.errors} connection errors); latency there is each session's refresh cycle (time between its consecutive answers), timed by the bench, because autocannon's own latency (p50 ${result.latency.p50} ms) does not fit its throughput with ${SESSIONS} connections.`);
    return {
      perSecond: { median: result.requests.p50, p10: result.requests.p10, p90: result.requests.p90, samples: Math.round(result.duration) },
      latency: summarize(cycles),
      p99: percentile(cycles, 0.99),
      requests: answered,
      errors: Math.max(errors, result.errors + result.timeouts + result.non2xx),
      falseReuse,
    };
  } finally {
    await dev.stop();
    site.remove();
  }
}

export async function benchRefreshLoad(): Promise<Row[]> {
  const url = await benchDatabaseUrl();
  const floor = { name: `select 1, pool of ${POOL_SIZE}`, result: await baselineSelect(url) };
  const references: Array<[string, Summary]> = [
    ['reference: one row marked used and its successor inserted, one statement (the least a rotation writes)', await leastRotationWrites(url)],
    ['reference: rotate_refresh_token through the store alone, no handler', await storeRotationAlone(url)],
  ];
  const handler = await throughHandler(url);
  const dev = await throughNetlifyDev(url);
  const referenceRows: Row[] = references.map(([name, result]) => ({
    section: 'refresh load', name: `${name}: per second`, unit: 'req/s', result, baseline: floor, ratio: result.median / floor.result.median,
  }));
  return [...referenceRows, ...rows('handler', handler, floor, HANDLER_FLOOR_GOAL), ...rows('netlify dev + autocannon', dev, floor)];
}
