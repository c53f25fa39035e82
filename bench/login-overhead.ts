/**
 * Login overhead: what a successful login through the handler costs beyond
 * its one bcrypt compare at the configured cost and its time in the store
 * (real PostgreSQL), per call. Each part is timed inside the same call: the
 * store through a timing wrapper around the handler's store, the compare by
 * wrapping bcryptjs's compare, which src/core/password.ts calls.
 */
import type { HandlerEvent, HandlerResponse } from '@netlify/functions';
import gateConfig from '../rolegate.config.json' with { type: 'json' };
import { compileSiteConfig } from '../src/site-config/compile.js';
import { loginHandler } from '../src/auth/handlers.js';
import { prebuiltGateTable } from '../src/site-config/compiled.js';
import { nowSeconds } from '../src/core/access-token-claims.js';
import { readConfig } from '../src/core/environment.js';
import type { Store } from '../src/store/store.js';
import { openPostgresStore } from '../src/store/postgres.js';
import { BENCH_PASSWORD, benchDatabaseUrl, benchUsers } from './database.js';
import { summarize } from './stats.js';
import { timeCompares } from './compare-timing.js';
import type { Row } from './report.js';

const SITE = 'https://site.example';
const CALLS = 15;

/** Wraps every method of `store` so the time spent in it is added to `spent.ms`. */
function timedStore(store: Store, spent: { ms: number }): Store {
  return new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const start = performance.now();
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } finally {
          spent.ms += performance.now() - start;
        }
      };
    },
  });
}

export async function benchLoginOverhead(): Promise<Row[]> {
  const url = await benchDatabaseUrl();
  const config = readConfig({ JWT_SECRET: 'bench-secret-0123456789-abcdefghijklmnop', SITE_URL: SITE, DATABASE_URL: url });
  const cost = config.auth.bcryptCost;
  const store = openPostgresStore({ connectionString: url });
  const storeTime = { ms: 0 };
  const compareTime = { ms: 0 };
  const undoCompareTiming = timeCompares(compareTime);
  try {
    const users = await benchUsers(store, CALLS + 2, cost, 'login');
    // Made once, as functionRuntime makes them at a function's cold start: compiling the gate table is no part of a login.
    const deps = { store: timedStore(store, storeTime), config: config.auth, gates: prebuiltGateTable(gateConfig, compileSiteConfig(gateConfig)), now: nowSeconds };
    const handler = loginHandler(async () => deps);
    const totals: number[] = [];
    const stores: number[] = [];
    const compares: number[] = [];
    const overheads: number[] = [];
    for (const [i, user] of users.entries()) {
      const event = {
        httpMethod: 'POST', path: '/.netlify/functions/login', rawUrl: `${SITE}/.netlify/functions/login`, rawQuery: '',
        headers: { origin: SITE, 'content-type': 'application/json', 'x-nf-client-connection-ip': `198.51.100.${i}` },
        body: JSON.stringify({ email: user.email, password: BENCH_PASSWORD }), isBase64Encoded: false,
      } as unknown as HandlerEvent;
      storeTime.ms = 0;
      compareTime.ms = 0;
      const start = performance.now();
      const response = (await handler(event)) as HandlerResponse;
      const total = performance.now() - start;
      if (response.statusCode !== 200) throw new Error(`bench login answered ${response.statusCode}: ${response.body}`);
      // Each login must have done exactly the work being subtracted, or the difference means nothing.
      if (compareTime.ms <= 0 || storeTime.ms <= 0) throw new Error('bench login did no bcrypt compare or no store call');
      if (i < 2) continue; // warm-up: the pool connects, the JIT settles
      totals.push(total);
      stores.push(storeTime.ms);
      compares.push(compareTime.ms);
      overheads.push(total - storeTime.ms - compareTime.ms);
    }
    const section = 'login';
    return [
      { section, name: 'login overhead per call (total − bcrypt − store)', unit: 'ms', result: summarize(overheads), goal: '< 1 ms', met: summarize(overheads).median < 1 },
      { section, name: `login handler total, BCRYPT_COST ${cost}`, unit: 'ms', result: summarize(totals) },
      { section, name: `  of which bcrypt compare, cost ${cost}`, unit: 'ms', result: summarize(compares) },
      { section, name: '  of which store (PostgreSQL)', unit: 'ms', result: summarize(stores) },
    ];
  } finally {
    undoCompareTiming();
    await store.close();
  }
}
