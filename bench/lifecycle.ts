/**
 * What the account lifecycle's requests cost beside a sign-in: a sign-up (a
 * new unconfirmed account, its link and its mail written to the outbox) and a
 * recovery request (a link and its mail for a known address), each through its
 * own handler on real PostgreSQL, interleaved call by call with a login of the
 * same bcrypt cost. Mail only waits in the outbox here: delivery is its own
 * background function and not part of the request.
 */
import type { HandlerEvent, HandlerResponse } from '@netlify/functions';
import gateConfig from '../rolegate.config.json' with { type: 'json' };
import { compileSiteConfig } from '../src/site-config/compile.js';
import { prebuiltGateTable } from '../src/site-config/compiled.js';
import { loginHandler } from '../src/auth/handlers.js';
import { recoverHandler, signupHandler } from '../src/auth/account-handlers.js';
import type { AuthDeps } from '../src/auth/deps.js';
import { DEFAULT_ACCOUNT_SETTINGS } from '../src/site-config/account-settings.js';
import { nowSeconds } from '../src/core/access-token-claims.js';
import { readConfig } from '../src/core/environment.js';
import { openPostgresStore } from '../src/store/postgres.js';
import { BENCH_PASSWORD, benchDatabaseUrl, benchUsers } from './database.js';
import { summarize } from './stats.js';
import { addNote, type Row } from './report.js';

const SITE = 'https://site.example';
const CALLS = 12;
const WARM_UP = 2;

function post(name: string, i: number, body: Record<string, string>): HandlerEvent {
  return {
    httpMethod: 'POST', path: `/.netlify/functions/${name}`, rawUrl: `${SITE}/.netlify/functions/${name}`, rawQuery: '',
    // An address of its own per call, so no throttle or mail limit is what gets measured.
    headers: { origin: SITE, 'content-type': 'application/json', 'x-nf-client-connection-ip': `203.0.113.${i % 250}` },
    body: JSON.stringify(body), isBase64Encoded: false,
  } as unknown as HandlerEvent;
}

async function timed(call: () => Promise<unknown>, expected: number, what: string): Promise<number> {
  const start = performance.now();
  const response = (await call()) as HandlerResponse;
  const elapsed = performance.now() - start;
  if (response.statusCode !== expected) throw new Error(`bench ${what} answered ${response.statusCode}: ${response.body}`);
  return elapsed;
}

export async function benchLifecycle(): Promise<Row[]> {
  const url = await benchDatabaseUrl();
  const config = readConfig({ JWT_SECRET: 'bench-secret-0123456789-abcdefghijklmnop', SITE_URL: SITE, DATABASE_URL: url, MAIL_MAX_PER_IP: '100000' });
  const store = openPostgresStore({ connectionString: url });
  try {
    const cost = config.auth.bcryptCost;
    const deps: AuthDeps = {
      store, config: config.auth, gates: prebuiltGateTable(gateConfig, compileSiteConfig(gateConfig)), now: nowSeconds,
      mail: config.mail, kickMail: async () => undefined,
      accounts: { ...DEFAULT_ACCOUNT_SETTINGS, registration: 'open', newUserRoles: ['member'] },
    };
    const login = loginHandler(async () => deps);
    const signup = signupHandler(async () => deps);
    const recover = recoverHandler(async () => deps);
    const users = await benchUsers(store, CALLS * 2, cost, 'lifecycle');
    const logins: number[] = [];
    const signups: number[] = [];
    const recoveries: number[] = [];
    const stamp = Date.now();
    for (let i = 0; i < CALLS; i++) {
      const loginMs = await timed(() => login(post('login', i, { email: users[i]!.email, password: BENCH_PASSWORD })), 200, 'login');
      const signupMs = await timed(() => signup(post('signup', i, { email: `new-${stamp}-${i}@bench.example`, password: BENCH_PASSWORD })), 202, 'sign-up');
      const recoverMs = await timed(() => recover(post('recover', i, { email: users[CALLS + i]!.email })), 202, 'recovery request');
      if (i < WARM_UP) continue;
      logins.push(loginMs);
      signups.push(signupMs);
      recoveries.push(recoverMs);
    }
    // Each request must have done the work being measured: a mail per sign-up and per recovery.
    const pending = await store.listMail({ limit: CALLS * 3, state: 'pending' });
    const templates = pending.map((m) => m.template);
    if (templates.filter((t) => t === 'signup').length !== CALLS || templates.filter((t) => t === 'recovery').length !== CALLS) {
      throw new Error(`bench lifecycle: expected ${CALLS} sign-up and ${CALLS} recovery mails in the outbox, found ${templates.join(', ')}`);
    }
    const section = 'lifecycle';
    const baseline = { name: `login, bcrypt cost ${cost}`, result: summarize(logins) };
    addNote(`Lifecycle: ${CALLS - WARM_UP} calls of each after ${WARM_UP} warm-up calls, interleaved login → sign-up → recovery request, in this process on real PostgreSQL, each for an address of its own; open registration with confirmation, so a sign-up hashes its password at BCRYPT_COST ${cost} and writes the account, its link and its mail in one SQL function; a recovery request writes a link and its mail for a known address; mail stays in the outbox (delivery is the mail function's work, not the request's).`);
    return [
      { section, name: 'sign-up request (account, link and mail in the outbox)', unit: 'ms', result: summarize(signups), baseline, ratio: summarize(signups).median / baseline.result.median },
      { section, name: 'recovery request (link and mail in the outbox)', unit: 'ms', result: summarize(recoveries), baseline, ratio: summarize(recoveries).median / baseline.result.median },
    ];
  } finally {
    await store.close();
  }
}
