/**
 * The request check, in alternating rounds: rolegate's requireRole (verify
 * the nf_jwt cookie, check a role) against Better Auth's auth.api.getSession
 * with a signed-in session's cookies, once with its cookie cache on (the
 * session read from the signed session_data cookie) and once off (read from
 * PostgreSQL). Each candidate must accept its credentials before it is timed.
 */
import type { HandlerEvent } from '@netlify/functions';
import { signAccessToken } from '../../src/core/access-token-node.js';
import { nowSeconds } from '../../src/core/access-token-claims.js';
import { readConfig } from '../../src/core/environment.js';
import { requireRole } from '../../src/auth/require-role.js';
import { Secret } from '../../src/core/secret.js';
import { BENCH_PASSWORD } from '../database.js';
import { summarize, throughput, type Summary } from '../stats.js';
import { addNote, type Row } from '../report.js';
import { cookieHeaderOf, openPeer, peerUsers, type PeerAuth } from './better-auth.js';
import { PEER_SITE } from './options.js';
import { countRoundTrips } from './round-trips.js';

const ROUNDS = 8;
const SECONDS_PER_ROUND = 0.25;
const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';

async function signedInCookies(auth: PeerAuth, email: string): Promise<string> {
  const response = await auth.handler(new Request(`${PEER_SITE}/api/auth/sign-in/email`, {
    method: 'POST', headers: { origin: PEER_SITE, 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: BENCH_PASSWORD }),
  }));
  if (response.status !== 200) throw new Error(`Better Auth sign-in answered ${response.status}`);
  return cookieHeaderOf(response.headers);
}

function rolegateCheck(): () => Promise<unknown> {
  const config = readConfig({ JWT_SECRET: SECRET, ROLEGATE_DATA_DIR: 'unused' }).auth;
  const now = nowSeconds();
  const { token } = signAccessToken({
    subject: { id: '6f0e6c1e-0000-4000-8000-000000000000', email: 'bench@example.com', roles: ['admin', 'member'] },
    sessionId: '7a1d9c1e-0000-4000-8000-000000000000', secret: new Secret(SECRET), issuer: 'rolegate', ttlSeconds: 900, now,
  });
  const event = { httpMethod: 'GET', path: '/.netlify/functions/whoami', headers: { cookie: `nf_jwt=${token}` } } as unknown as HandlerEvent;
  return async () => {
    if (!(await requireRole(event, { roles: ['admin'], config, now })).ok) throw new Error('requireRole refused the bench token');
  };
}

function peerCheck(auth: PeerAuth, cookie: string): () => Promise<unknown> {
  const headers = new Headers({ cookie });
  return async () => {
    if (!(await auth.api.getSession({ headers }))) throw new Error('Better Auth getSession found no session');
  };
}

export async function benchPeerCheck(cost: number): Promise<Row[]> {
  const cached = await openPeer({ cost, cookieCache: true });
  const uncached = await openPeer({ cost, cookieCache: false });
  try {
    const [user] = await peerUsers(cached.auth, 1, cost, 'check');
    const cookies = await signedInCookies(cached.auth, user!.email);
    if (!cookies.includes('session_data=')) throw new Error('Better Auth set no cookie cache');
    // Without the cache, only the session cookie: a stale session_data cookie would make it clear that cookie on every call.
    const sessionOnly = cookies.split('; ').filter((pair) => pair.includes('session_token=')).join('; ');
    const candidates: Record<string, () => Promise<unknown>> = {
      rolegate: rolegateCheck(),
      cached: peerCheck(cached.auth, cookies),
      uncached: peerCheck(uncached.auth, sessionOnly),
    };
    const names = Object.keys(candidates);
    // Each must accept its credentials, and the cache must spare the database or "on" measures nothing.
    const trips: Record<string, number> = {};
    for (const name of names) {
      const counter = countRoundTrips();
      try {
        await candidates[name]!();
        await candidates[name]!();
      } finally {
        counter.stop();
      }
      trips[name] = counter.count / 2;
    }
    if (trips.cached !== 0 || !trips.uncached) throw new Error(`getSession round trips: cache on ${trips.cached}, off ${trips.uncached}`);
    const rates: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < names.length; k++) {
        const name = names[(round + k) % names.length]!;
        rates[name]!.push((await throughput(candidates[name]!, { seconds: SECONDS_PER_ROUND, rounds: 1 })).median);
      }
    }
    return checkRows(rates, trips);
  } finally {
    await cached.pool.end();
    await uncached.pool.end();
  }
}

function checkRows(rates: Record<string, number[]>, trips: Record<string, number>): Row[] {
  const section = 'peer';
  const rolegate = summarize(rates.rolegate!);
  const rows: Row[] = [];
  const spreads: string[] = [];
  for (const [name, label] of [['cached', 'cookie cache on'], ['uncached', 'cookie cache off']] as const) {
    const peer: Summary = summarize(rates[name]!);
    const ratio = rolegate.median / peer.median;
    rows.push(
      { section, name: `request check: Better Auth getSession, ${label}`, unit: 'ops/s', result: peer },
      { section, name: `request check: rolegate requireRole vs getSession ${label} (ratio rolegate ÷ Better Auth)`, unit: 'ops/s', result: rolegate,
        baseline: { name: `getSession, ${label}`, result: peer }, ratio, goal: '≥ 20× (a guard)', met: ratio >= 20 },
    );
    const perRound = summarize(rates.rolegate!.map((rate, i) => rate / rates[name]![i]!));
    spreads.push(`${label} ${perRound.median.toFixed(1)}× (p10–p90 ${perRound.p10.toFixed(1)}–${perRound.p90.toFixed(1)})`);
  }
  addNote(`Peer request check: ${ROUNDS} alternating rounds of ${SECONDS_PER_ROUND} s each, one call at a time, in this process. `
    + 'rolegate: requireRole on a Netlify event carrying the nf_jwt cookie (HS256 verify, claims, a role). '
    + 'Better Auth: auth.api.getSession with the cookies its sign-in set; cookie cache on reads the session from its signed session_data cookie (5 min max age), off reads it from PostgreSQL (no refresh: the session is fresh). '
    + `Database round trips per check: rolegate ${trips.rolegate}, Better Auth cache on ${trips.cached}, off ${trips.uncached}. `
    + `Ratio per round, rolegate ÷ Better Auth: ${spreads.join('; ')}.`);
  return rows;
}
