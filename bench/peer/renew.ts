/**
 * 200 signed-in sessions renewing at once, in alternating rounds, each
 * session a loop that sends the cookie its previous answer set. rolegate:
 * its refresh handler (POST, rotation: a new refresh token in one SQL call,
 * a new access JWT). Better Auth: auth.handler GET /api/auth/get-session with
 * updateAge 0 and no cookie cache, so every read is its session refresh (the
 * session row read, its expiresAt moved on by an UPDATE, the cookie set
 * again; Better Auth keeps the token, it does not rotate one). Both on a pool
 * of rolegate's size, two connections, against the same PostgreSQL.
 */
import type { HandlerEvent, HandlerResponse } from '@netlify/functions';
import gateConfig from '../../rolegate.config.json' with { type: 'json' };
import { compileSiteConfig } from '../../src/site-config/compile.js';
import { refreshHandler } from '../../src/auth/handlers.js';
import { functionRuntime } from '../../src/auth/runtime.js';
import { refreshCookie } from '../../src/http/cookies.js';
import { POOL_DEFAULTS } from '../../src/store/postgres.js';
import { benchDatabaseUrl, benchSessions } from '../database.js';
import { summarize } from '../stats.js';
import { addNote, type Row } from '../report.js';
import { cookieHeaderOf, openPeer, peerSessionCookie, peerUsers } from './better-auth.js';
import { PEER_SITE } from './options.js';
import { countRoundTrips } from './round-trips.js';

const SESSIONS = 200;
const ROUNDS = 3;
const SECONDS_PER_ROUND = 2;
const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';
const REFRESH_COOKIE = refreshCookie({}).name;

type Renew = (session: number) => Promise<boolean>;

interface Load {
  perSecond: number[];
  latencies: number[];
  requests: number;
  failures: number;
  roundTrips: number;
}

/** `SESSIONS` loops renewing for `seconds`; each answer that is not a renewed session is a failure. */
async function closedLoop(renew: Renew, seconds: number, load: Load): Promise<void> {
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const buckets = new Array<number>(seconds).fill(0);
  const roundTrips = countRoundTrips();
  try {
    await Promise.all(Array.from({ length: SESSIONS }, async (_, session) => {
      while (performance.now() < deadline) {
        const start = performance.now();
        const ok = await renew(session);
        const end = performance.now();
        load.latencies.push(end - start);
        load.requests += 1;
        if (!ok) load.failures += 1;
        const second = Math.floor((end - started) / 1000);
        if (second < seconds) buckets[second]! += 1;
      }
    }));
  } finally {
    load.roundTrips += roundTrips.count;
    roundTrips.stop();
  }
  load.perSecond.push(...buckets);
}

async function rolegateRenew(): Promise<Renew> {
  const url = await benchDatabaseUrl();
  const handler = refreshHandler(functionRuntime({ JWT_SECRET: SECRET, SITE_URL: PEER_SITE, DATABASE_URL: url }, gateConfig, compileSiteConfig(gateConfig)));
  const tokens = await benchSessions(url, SESSIONS, 'peer-renew');
  return async (session) => {
    const event = {
      httpMethod: 'POST', path: '/.netlify/functions/refresh', rawUrl: `${PEER_SITE}/.netlify/functions/refresh`, rawQuery: '',
      headers: { origin: PEER_SITE, cookie: `${REFRESH_COOKIE}=${tokens[session]}` }, body: null, isBase64Encoded: false,
    } as unknown as HandlerEvent;
    const response = (await handler(event)) as HandlerResponse;
    const setCookies = response.multiValueHeaders?.['Set-Cookie'] ?? [];
    const next = setCookies.map(String).find((cookie) => cookie.startsWith(`${REFRESH_COOKIE}=`))?.slice(REFRESH_COOKIE.length + 1).split(';')[0];
    if (response.statusCode !== 200 || !next) return false;
    tokens[session] = next;
    return true;
  };
}

async function peerRenew(cost: number): Promise<{ renew: Renew; close(): Promise<void> }> {
  const peer = await openPeer({ cost, cookieCache: false, updateAge: 0 });
  const users = await peerUsers(peer.auth, SESSIONS / 10, cost, 'renew');
  const cookies: string[] = [];
  for (let i = 0; i < SESSIONS; i++) cookies.push(await peerSessionCookie(peer.auth, users[i % users.length]!.id));
  const renew: Renew = async (session) => {
    const response = await peer.auth.handler(new Request(`${PEER_SITE}/api/auth/get-session`, { headers: { cookie: cookies[session]! } }));
    const body = (await response.json()) as { session?: { token?: string } } | null;
    const next = cookieHeaderOf(response.headers);
    if (response.status !== 200 || !body?.session || !next.includes('session_token=')) return false;
    cookies[session] = next;
    return true;
  };
  return { renew, close: () => peer.pool.end() };
}

export async function benchPeerRenew(cost: number): Promise<Row[]> {
  const candidates: Record<string, Renew> = { rolegate: await rolegateRenew() };
  const peer = await peerRenew(cost);
  candidates.peer = peer.renew;
  const loads: Record<string, Load> = {};
  try {
    // One renewal per session first, not counted: pools connect, Better Auth checks its schema, the JIT settles.
    for (const renew of Object.values(candidates)) {
      const renewed = await Promise.all(Array.from({ length: SESSIONS }, (_, session) => renew(session)));
      if (!renewed.every(Boolean)) throw new Error('a warm-up renewal renewed nothing');
    }
    for (const name of Object.keys(candidates)) loads[name] = { perSecond: [], latencies: [], requests: 0, failures: 0, roundTrips: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      const names = round % 2 === 0 ? ['rolegate', 'peer'] : ['peer', 'rolegate'];
      for (const name of names) await closedLoop(candidates[name]!, SECONDS_PER_ROUND, loads[name]!);
    }
  } finally {
    await peer.close();
  }
  return renewRows(loads.rolegate!, loads.peer!);
}

function renewRows(rolegate: Load, peer: Load): Row[] {
  const section = 'peer';
  const label = `${SESSIONS} sessions renewing`;
  const rate = (load: Load) => summarize(load.perSecond);
  const latency = (load: Load) => summarize(load.latencies);
  const trips = (load: Load) => summarize([load.roundTrips / load.requests]);
  const ok = (load: Load) => load.failures === 0 && load.requests > SESSIONS;
  addNote(`Peer renewal: ${SESSIONS} concurrent sessions per side, ${ROUNDS} alternating rounds of ${SECONDS_PER_ROUND} s each after one uncounted renewal of every session, in this process, each side on a pg pool of ${POOL_DEFAULTS.maxConnections} connections. `
    + 'rolegate: its refresh handler, POST with the refresh cookie, rotating the refresh token and signing a new access JWT. '
    + 'Better Auth: auth.handler GET /api/auth/get-session with the session cookie, updateAge 0 and the cookie cache off, so each call is its documented session refresh (read the session, move expiresAt on, set the cookie again); the token itself is never rotated. '
    + `Answers: rolegate ${rolegate.requests.toLocaleString('en-US')} (${rolegate.failures} not renewed), Better Auth ${peer.requests.toLocaleString('en-US')} (${peer.failures} not renewed).`);
  return [
    { section, name: `${label}: Better Auth session refresh (get-session, updateAge 0)`, unit: 'req/s', result: rate(peer) },
    { section, name: `${label}: rolegate refresh rotation (ratio rolegate ÷ Better Auth)`, unit: 'req/s', result: rate(rolegate),
      baseline: { name: 'Better Auth session refresh', result: rate(peer) }, ratio: rate(rolegate).median / rate(peer).median },
    { section, name: `${label}: latency, Better Auth`, unit: 'ms', result: latency(peer) },
    { section, name: `${label}: latency, rolegate (ratio rolegate ÷ Better Auth)`, unit: 'ms', result: latency(rolegate),
      baseline: { name: 'Better Auth', result: latency(peer) }, ratio: latency(rolegate).median / latency(peer).median },
    { section, name: `${label}: database round trips per renewal, Better Auth`, unit: 'count', result: trips(peer) },
    { section, name: `${label}: database round trips per renewal, rolegate (ratio rolegate ÷ Better Auth)`, unit: 'count', result: trips(rolegate),
      baseline: { name: 'Better Auth', result: trips(peer) }, ratio: trips(rolegate).median / trips(peer).median },
    { section, name: `${label}: answers that renewed nothing, both sides`, unit: 'count', result: summarize([rolegate.failures + peer.failures]),
      goal: '0', met: ok(rolegate) && ok(peer) },
  ];
}
