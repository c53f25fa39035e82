/**
 * Sign-in with email and password, interleaved call by call: rolegate's login
 * handler (a Netlify event in, a response out) against Better Auth's
 * auth.handler (a Request to /api/auth/sign-in/email), and beside them
 * Better Auth's direct auth.api.signInEmail call. Each call is timed whole,
 * its bcrypt compare timed inside it (bcryptjs's compare, wrapped, which both
 * sides call at the same cost), and its database round trips counted.
 */
import type { HandlerEvent, HandlerResponse } from '@netlify/functions';
import gateConfig from '../../rolegate.config.json' with { type: 'json' };
import { compileSiteConfig } from '../../src/site-config/compile.js';
import { loginHandler } from '../../src/auth/handlers.js';
import { prebuiltGateTable } from '../../src/site-config/compiled.js';
import { nowSeconds } from '../../src/core/access-token-claims.js';
import { readConfig } from '../../src/core/environment.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/store.js';
import { BENCH_PASSWORD, benchDatabaseUrl, benchUsers } from '../database.js';
import { summarize, type Summary } from '../stats.js';
import { addNote, type Row } from '../report.js';
import { openPeer, peerUsers } from './better-auth.js';
import { PEER_SITE } from './options.js';
import { countRoundTrips } from './round-trips.js';
import { timeCompares } from '../compare-timing.js';

const CALLS = 20;
const WARM_UP = 3;
const SECTION = 'peer';

interface Sample {
  total: number;
  compare: number;
  roundTrips: number;
}

type Candidate = (i: number) => Promise<void>;

function rolegateSignIn(store: Store, url: string, cost: number, emails: string[]): Candidate {
  const config = readConfig({ JWT_SECRET: 'bench-secret-0123456789-abcdefghijklmnop', SITE_URL: PEER_SITE, DATABASE_URL: url });
  if (config.auth.bcryptCost !== cost) throw new Error('rolegate login and the peer would compare at different costs');
  // Made once, as functionRuntime makes them at a function's cold start: compiling the gate table is no part of a sign-in.
  const deps = { store, config: config.auth, gates: prebuiltGateTable(gateConfig, compileSiteConfig(gateConfig)), now: nowSeconds };
  const handler = loginHandler(async () => deps);
  return async (i) => {
    const event = {
      httpMethod: 'POST', path: '/.netlify/functions/login', rawUrl: `${PEER_SITE}/.netlify/functions/login`, rawQuery: '',
      headers: { origin: PEER_SITE, 'content-type': 'application/json', 'x-nf-client-connection-ip': `198.51.100.${i % 250}` },
      body: JSON.stringify({ email: emails[i], password: BENCH_PASSWORD }), isBase64Encoded: false,
    } as unknown as HandlerEvent;
    const response = (await handler(event)) as HandlerResponse;
    if (response.statusCode !== 200) throw new Error(`rolegate login answered ${response.statusCode}: ${response.body}`);
  };
}

export async function benchPeerSignIn(cost: number): Promise<Row[]> {
  const url = await benchDatabaseUrl();
  const store = openPostgresStore({ connectionString: url });
  const peer = await openPeer({ cost });
  try {
    const count = CALLS + WARM_UP;
    const rolegateEmails = (await benchUsers(store, count, cost, 'peer-login')).map((user) => user.email);
    const handlerEmails = (await peerUsers(peer.auth, count, cost, 'handler')).map((user) => user.email);
    const apiEmails = (await peerUsers(peer.auth, count, cost, 'api')).map((user) => user.email);
    const candidates: Record<string, Candidate> = {
      rolegate: rolegateSignIn(store, url, cost, rolegateEmails),
      handler: async (i) => {
        const response = await peer.auth.handler(new Request(`${PEER_SITE}/api/auth/sign-in/email`, {
          method: 'POST',
          headers: { origin: PEER_SITE, 'content-type': 'application/json', 'x-forwarded-for': `198.51.100.${i % 250}` },
          body: JSON.stringify({ email: handlerEmails[i], password: BENCH_PASSWORD }),
        }));
        if (response.status !== 200) throw new Error(`Better Auth sign-in answered ${response.status}: ${await response.text()}`);
        await response.arrayBuffer();
      },
      api: async (i) => {
        const result = await peer.auth.api.signInEmail({ body: { email: apiEmails[i]!, password: BENCH_PASSWORD }, headers: new Headers({ origin: PEER_SITE }) });
        if (!result.token) throw new Error('Better Auth signInEmail returned no session');
      },
    };
    const samples = await interleave(candidates, count, WARM_UP);
    return signInRows(samples, cost);
  } finally {
    await store.close();
    await peer.pool.end();
  }
}

/** Runs call i of every candidate before call i+1 of any, starting each round at another candidate. */
async function interleave(candidates: Record<string, Candidate>, count: number, warmUp: number): Promise<Record<string, Sample[]>> {
  const names = Object.keys(candidates);
  const samples: Record<string, Sample[]> = Object.fromEntries(names.map((name) => [name, []]));
  const compare = { ms: 0 };
  const restore = timeCompares(compare);
  const roundTrips = countRoundTrips();
  try {
    for (let i = 0; i < count; i++) {
      for (let k = 0; k < names.length; k++) {
        const name = names[(i + k) % names.length]!;
        compare.ms = 0;
        roundTrips.count = 0;
        const start = performance.now();
        await candidates[name]!(i);
        const total = performance.now() - start;
        // Work a handler leaves running after its answer would land in the next call's count.
        await new Promise((resolve) => setTimeout(resolve, 2));
        if (compare.ms <= 0) throw new Error(`${name} sign-in did no bcrypt compare`);
        if (i >= warmUp) samples[name]!.push({ total, compare: compare.ms, roundTrips: roundTrips.count });
      }
    }
  } finally {
    roundTrips.stop();
    restore();
  }
  return samples;
}

function signInRows(samples: Record<string, Sample[]>, cost: number): Row[] {
  const of = (name: string, pick: (s: Sample) => number): Summary => summarize(samples[name]!.map(pick));
  const beyond = (s: Sample) => s.total - s.compare;
  const rows: Row[] = [];
  const handlerBeyond = { name: 'Better Auth auth.handler', result: of('handler', beyond) };
  const handlerTotal = { name: 'Better Auth auth.handler', result: of('handler', (s) => s.total) };
  const handlerTrips = { name: 'Better Auth auth.handler', result: of('handler', (s) => s.roundTrips) };
  const rolegateBeyond = of('rolegate', beyond);
  const rolegateTrips = of('rolegate', (s) => s.roundTrips);
  const beyondRatio = rolegateBeyond.median / handlerBeyond.result.median;
  rows.push(
    { section: SECTION, name: 'sign-in beyond the bcrypt compare: Better Auth auth.handler (/api/auth/sign-in/email)', unit: 'ms', result: handlerBeyond.result },
    { section: SECTION, name: 'sign-in beyond the bcrypt compare: Better Auth auth.api.signInEmail (direct call)', unit: 'ms', result: of('api', beyond) },
    { section: SECTION, name: 'sign-in beyond the bcrypt compare: rolegate login handler (ratio rolegate ÷ Better Auth handler)', unit: 'ms', result: rolegateBeyond,
      baseline: handlerBeyond, ratio: beyondRatio, goal: '≤ 0.5× Better Auth handler', met: beyondRatio <= 0.5 },
    { section: SECTION, name: 'sign-in total: Better Auth auth.handler', unit: 'ms', result: handlerTotal.result },
    { section: SECTION, name: `sign-in total: rolegate login handler, bcrypt cost ${cost} both (ratio rolegate ÷ Better Auth)`, unit: 'ms', result: of('rolegate', (s) => s.total),
      baseline: handlerTotal, ratio: of('rolegate', (s) => s.total).median / handlerTotal.result.median },
    { section: SECTION, name: `  of which bcrypt compare, cost ${cost}: rolegate (ratio rolegate ÷ Better Auth handler)`, unit: 'ms', result: of('rolegate', (s) => s.compare),
      baseline: { name: 'Better Auth auth.handler', result: of('handler', (s) => s.compare) }, ratio: of('rolegate', (s) => s.compare).median / of('handler', (s) => s.compare).median },
    { section: SECTION, name: 'database round trips per sign-in: Better Auth auth.handler', unit: 'count', result: handlerTrips.result },
    { section: SECTION, name: 'database round trips per sign-in: Better Auth auth.api.signInEmail', unit: 'count', result: of('api', (s) => s.roundTrips) },
    { section: SECTION, name: 'database round trips per sign-in: rolegate login handler (ratio rolegate ÷ Better Auth handler)', unit: 'count', result: rolegateTrips,
      baseline: handlerTrips, ratio: rolegateTrips.median / handlerTrips.result.median, goal: '≤ 2 in every sign-in', met: Math.max(...samples.rolegate!.map((s) => s.roundTrips)) <= 2 },
  );
  const perCall = samples.rolegate!.map((s, i) => beyond(s) / beyond(samples.handler![i]!));
  const spread = summarize(perCall);
  addNote(`Peer sign-in: ${samples.rolegate!.length} sign-ins of each kind, interleaved call by call, each of a different user, after ${WARM_UP} warm-up calls each. `
    + 'Both sides compare with bcryptjs at the same cost and are timed around that compare; "beyond the bcrypt compare" is the call\'s total minus its compare and includes the database. '
    + `rolegate's login handler takes a Netlify event with its JSON body, Better Auth's auth.handler a Request to /api/auth/sign-in/email; both answer 200 with their session cookies. `
    + `Per call, rolegate ÷ Better Auth handler beyond the compare: median ${spread.median.toFixed(2)}, p10–p90 ${spread.p10.toFixed(2)}–${spread.p90.toFixed(2)}. `
    + 'Round trips are pg Client.query calls from the start of a call to 2 ms after its answer. Better Auth\'s rate limiter is off (its default allows 3 sign-ins per 10 s per address, and keeps its counts in memory); rolegate\'s login throttle, in the database, is on and its queries are counted.');
  return rows;
}
