/**
 * Identity events through the handlers, on a real PostgreSQL: sign-up rules,
 * roles that keep the rest of app_metadata, ordering, and delivery that never
 * blocks a sign-in but lands exactly once after a retry.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityEventHandler, identityRetryHandler } from '../../src/sync/handlers.js';
import { httpHandoff, RETRY_FUNCTION_PATH } from '../../src/sync/runtime.js';
import { RETRY_SIGNATURE_HEADER, signRetryJob, type RetryJob } from '../../src/sync/retry.js';
import { storeSink } from '../../src/sync/sinks/store.js';
import type { Store } from '../../src/store/store.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import { openTestStore, type TestStore } from '../support/databases.js';
import { gotrueUser, payload, postEvent } from './fixtures.js';
import { flakySink, makeSyncDeps, type TestSyncDeps } from './support.js';

let t: TestStore;
let store: Store;
let sql: pg.Pool;

beforeAll(async () => {
  t = await openTestStore();
  ({ store, sql } = t);
});
afterAll(() => t.close());

const rules = {
  signups: { allowEmailDomains: ['company.example', 'example.com'], allowEmails: ['partner@outside.example'] },
  roleRules: [
    { emailDomains: ['company.example'], roles: ['member'] },
    { emails: ['boss@company.example'], roles: ['admin'] },
  ],
};

async function mirrorRows(id: string) {
  return (await sql.query('select email, roles, app_metadata, updated_at, last_login_at from rolegate.identity_users where id = $1', [id])).rows;
}

async function send(deps: TestSyncDeps, name: 'validate' | 'signup' | 'login', body: string) {
  const response = await identityEventHandler(name, async () => deps)(postEvent(body));
  return { status: response.statusCode, body: response.body ? JSON.parse(response.body) : null, headers: response.headers ?? {} };
}

describe('identity-validate and identity-signup: who may sign up', () => {
  it('refuses an address outside the allow-list with a message Identity shows, and writes nothing', async () => {
    const deps = makeSyncDeps(store, { identity: rules });
    const user = gotrueUser({ email: 'someone@elsewhere.example' });
    for (const name of ['validate', 'signup'] as const) {
      const r = await send(deps, name, payload(name, user));
      expect(r.status).toBe(422);
      expect(r.body.error.code).toBe('signup_not_allowed');
      expect(r.body.webhook_error).toMatch(/@company\.example, @example\.com addresses only/);
    }
    expect(await mirrorRows(user.id)).toEqual([]);
  });

  it('uses the configured message when there is one', async () => {
    const deps = makeSyncDeps(store, { identity: { signups: { allowEmails: ['a@b.example'], message: 'Ask ops@company.example for an invite.' } } });
    const r = await send(deps, 'validate', payload('validate', gotrueUser({ email: 'x@y.example' })));
    expect(r.body.webhook_error).toBe('Ask ops@company.example for an invite.');
  });

  it('lets an allowed address through validate without copying a user that does not exist yet', async () => {
    const deps = makeSyncDeps(store, { identity: rules });
    const user = gotrueUser({ email: 'partner@outside.example' });
    const r = await send(deps, 'validate', payload('validate', user));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({});
    expect(await mirrorRows(user.id)).toEqual([]);
  });
});

describe('identity-signup: roles by rule', () => {
  it('adds the rules\' roles and answers with app_metadata that keeps provider and every other key', async () => {
    const deps = makeSyncDeps(store, { identity: rules });
    const user = gotrueUser({
      email: 'Boss@Company.example',
      app_metadata: { provider: 'google', roles: ['beta'], plan: { tier: 'gold' } },
    });
    const r = await send(deps, 'signup', payload('signup', user));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ app_metadata: { provider: 'google', plan: { tier: 'gold' }, roles: ['beta', 'member', 'admin'] } });
    expect(r.body.user_metadata).toBeUndefined();
    const [row] = await mirrorRows(user.id);
    expect(row).toMatchObject({ email: 'boss@company.example', roles: ['beta', 'member', 'admin'] });
    expect(row.app_metadata).toEqual({ provider: 'google', plan: { tier: 'gold' }, roles: ['beta', 'member', 'admin'] });
  });

  it('answers an empty object, leaving Identity\'s user untouched, when no rule adds anything', async () => {
    const deps = makeSyncDeps(store, { identity: rules });
    const user = gotrueUser({ email: 'reader@example.com' });
    const r = await send(deps, 'signup', payload('signup', user));
    expect(r).toMatchObject({ status: 200, body: {} });
    expect(await mirrorRows(user.id)).toHaveLength(1);
  });
});

describe('identity-login: ordering and replays', () => {
  it('records the login, ignores a replayed or older event, and never moves last login backwards', async () => {
    const deps = makeSyncDeps(store);
    const user = gotrueUser();
    await send(deps, 'signup', payload('signup', user));
    const newer = { ...user, app_metadata: { provider: 'email', roles: ['editor'] }, updated_at: '2026-11-21T10:00:00Z', last_sign_in_at: '2026-11-21T10:00:00Z' };
    expect((await send(deps, 'login', payload('login', newer))).status).toBe(200);
    // The earlier signup event delivered late, and the newer one replayed.
    await send(deps, 'signup', payload('signup', user));
    await send(deps, 'login', payload('login', newer));
    const [row] = await mirrorRows(user.id);
    expect(row.roles).toEqual(['editor']);
    expect(new Date(row.updated_at).toISOString()).toBe('2026-11-21T10:00:00.000Z');
    // The login stamp is the later of last_sign_in_at and when the event arrived.
    expect(new Date(row.last_login_at).getTime()).toBeGreaterThanOrEqual(Date.parse('2026-11-21T10:00:00Z'));
    expect((await sql.query('select count(*)::int as n from rolegate.identity_users where id = $1', [user.id])).rows[0].n).toBe(1);
  });
});

describe('bad input', () => {
  it('answers 400 with the offending field, 405 for other methods, 413 above 1 MiB, and writes nothing', async () => {
    const deps = makeSyncDeps(store);
    const handler = identityEventHandler('signup', async () => deps);
    const cases: [string, string][] = [
      ['not json', 'body'],
      ['[]', 'body'],
      [JSON.stringify({ event: 'delete', user: gotrueUser() }), 'event'],
      [JSON.stringify({ event: 'signup', user: { ...gotrueUser(), id: 'not-a-uuid' } }), 'user.id'],
      [JSON.stringify({ event: 'signup', user: { ...gotrueUser(), email: 42 } }), 'user.email'],
      [JSON.stringify({ event: 'signup', user: { ...gotrueUser(), updated_at: 'yesterday' } }), 'user.updated_at'],
      [JSON.stringify({ event: 'signup', user: { ...gotrueUser(), app_metadata: { roles: 'admin' } } }), 'user.app_metadata.roles'],
      [JSON.stringify({ event: 'signup', user: { ...gotrueUser(), user_metadata: [] } }), 'user.user_metadata'],
    ];
    const before = (await sql.query('select count(*)::int as n from rolegate.identity_users')).rows[0].n;
    for (const [body, field] of cases) {
      const r = await handler(postEvent(body));
      expect(r.statusCode, body).toBe(400);
      const parsed = JSON.parse(r.body!);
      expect(parsed.error.code).toBe('bad_request');
      expect(parsed.field).toBe(field);
      expect(r.body).not.toMatch(/at .*\.ts:\d+/);
    }
    const login = await handler(postEvent(payload('login', gotrueUser())));
    expect(login.statusCode).toBe(400);
    expect(JSON.parse(login.body!).error.code).toBe('wrong_event');
    const get = await handler(postEvent('', {}, 'GET'));
    expect(get.statusCode).toBe(405);
    expect(get.headers?.Allow).toBe('POST');
    const huge = await handler(postEvent(payload('signup', gotrueUser({ user_metadata: { bio: 'x'.repeat(1_100_000) } }))));
    expect(huge.statusCode).toBe(413);
    expect((await sql.query('select count(*)::int as n from rolegate.identity_users')).rows[0].n).toBe(before);
  });

  it('copies a user Identity holds with many roles and large metadata rather than blocking the sign-in', async () => {
    const deps = makeSyncDeps(store);
    const user = gotrueUser({
      app_metadata: { provider: 'email', roles: Array.from({ length: 200 }, (_, i) => `role-${i}-${'r'.repeat(100)}`) },
      user_metadata: { bio: 'x'.repeat(400_000) },
    });
    const r = await send(deps, 'login', payload('login', user));
    expect(r.status).toBe(200);
    expect((await mirrorRows(user.id))[0].roles).toHaveLength(200);
  });
});

describe('a sink that is down', () => {
  it('never fails the sign-in: answers within the deadline, records the failure and queues a retry', async () => {
    const never: Parameters<typeof makeSyncDeps>[1] = {
      sinks: [{ name: 'store', upsert: () => new Promise(() => undefined) }],
      deadlineMs: 100,
    };
    const deps = makeSyncDeps(store, never);
    const user = gotrueUser();
    const r = await send(deps, 'login', payload('login', user));
    expect(r.status).toBe(200);
    expect(deps.handedOff).toHaveLength(1);
    expect(deps.handedOff[0]).toMatchObject({ v: 1, event: 'login', sinks: ['store'], user: { id: user.id } });
    expect(deps.logs.join('\n')).toMatch(/store failed for identity user .* queued for retry: DeadlineExceeded|no answer within 100 ms/);
    const audit = await sql.query(`select detail from rolegate.audit_log where event = 'identity_sync_failed' and detail->>'identity_user_id' = $1`, [user.id]);
    expect(audit.rows).toHaveLength(1);
  });

  it('answers 200 even when the whole database is unreachable', async () => {
    const dead = openPostgresStore({ connectionString: 'postgres://nobody@127.0.0.1:1/none', timeoutMs: 300 });
    try {
      const deps = makeSyncDeps(dead, { deadlineMs: 1000 });
      const r = await send(deps, 'signup', payload('signup', gotrueUser()));
      expect(r.status).toBe(200);
      expect(deps.handedOff).toHaveLength(1);
    } finally {
      await dead.close();
    }
  });

  it('lands exactly once through the signed hand-off to the background function after the sink recovers', async () => {
    const flaky = flakySink(storeSink(store), 3);
    const deps = makeSyncDeps(store, { sinks: [flaky] });
    const retries: Promise<unknown>[] = [];
    const statuses: number[] = [];
    // The background function, served over HTTP like Netlify does, behind the real hand-off.
    const server: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
        const event = { ...postEvent(Buffer.concat(chunks).toString('utf8'), headers), path: req.url ?? '' };
        res.writeHead(202).end();
        retries.push(identityRetryHandler(async () => deps)(event).then((r) => statuses.push(r.statusCode)));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const viaHttp = httpHandoff(url, deps.retryKey);
      deps.handoff = async (job) => {
        deps.handedOff.push(job);
        await viaHttp(job);
      };
      const user = gotrueUser();
      const r = await send(deps, 'signup', payload('signup', user));
      expect(r.status).toBe(200);
      await Promise.all(retries);
      expect(statuses).toEqual([200]);
      expect(flaky.calls).toBe(4); // 1 in the event + 3 in the retry, the last one landing
      expect(deps.sleeps).toEqual([10, 20]);
      expect(await mirrorRows(user.id)).toHaveLength(1);
      const audit = await sql.query(`select event from rolegate.audit_log where detail->>'identity_user_id' = $1 order by id`, [user.id]);
      expect(audit.rows.map((row) => row.event)).toEqual(['identity_sync_failed', 'identity_sync_recovered']);
      // Netlify running the background function again delivers nothing new.
      const reports: unknown[] = [];
      const counting = { name: 'store', upsert: async (users: Parameters<typeof flaky.upsert>[0]) => {
        const report = await storeSink(store).upsert(users);
        reports.push(report);
        return report;
      } };
      const again = await identityRetryHandler(async () => ({ ...deps, sinks: [counting] }))(signedJob(deps.handedOff[0] ?? lastJob(user.id), deps));
      expect(again.statusCode).toBe(200);
      expect(reports).toEqual([{ created: 0, updated: 0, unchanged: 1, stale: 0 }]);
      expect(await mirrorRows(user.id)).toHaveLength(1);
    } finally {
      server.close();
    }
  });

  it('throws when the budget is spent, so that Netlify runs the background function again', async () => {
    const deps = makeSyncDeps(store, { sinks: [flakySink(storeSink(store), 100)] });
    deps.retry = { ...deps.retry, budgetMs: 50 };
    // 10 and 20 ms waits fit the 50 ms budget; the third wait (40 ms) would not.
    const job: RetryJob = { v: 1, event: 'login', user: toUser(gotrueUser()), sinks: ['store'], queuedAt: new Date().toISOString() };
    await expect(identityRetryHandler(async () => deps)(signedJob(job, deps))).rejects.toThrow(/store still failing for identity user .* after 3 attempts/);
    expect(deps.sleeps).toEqual([10, 20]);
  });
});

describe('identity-sync-background refuses jobs it did not queue', () => {
  it('answers 401 for unsigned, mis-signed, tampered or stale jobs and delivers nothing', async () => {
    const deps = makeSyncDeps(store);
    const handler = identityRetryHandler(async () => deps);
    const user = toUser(gotrueUser());
    const job: RetryJob = { v: 1, event: 'signup', user, sinks: ['store'], queuedAt: new Date().toISOString() };
    const body = JSON.stringify(job);
    const unsigned = await handler(postEvent(body));
    const wrongKey = await handler(postEvent(body, { [RETRY_SIGNATURE_HEADER]: signRetryJob(body, Buffer.alloc(32, 1)) }));
    const tampered = await handler(postEvent(body.replace('"signup"', '"login"'), { [RETRY_SIGNATURE_HEADER]: signRetryJob(body, deps.retryKey) }));
    const stale = await handler(signedJob({ ...job, queuedAt: new Date(Date.now() - 2 * 3600_000).toISOString() }, deps));
    for (const r of [unsigned, wrongKey, tampered]) {
      expect(r.statusCode).toBe(401);
      expect(JSON.parse(r.body!).error.code).toBe('invalid_signature');
    }
    expect(stale.statusCode).toBe(401);
    expect(JSON.parse(stale.body!).error.code).toBe('stale_signature');
    expect(await mirrorRows(user.id)).toEqual([]);
  });
});

function toUser(u: ReturnType<typeof gotrueUser>): RetryJob['user'] {
  return {
    id: u.id, email: u.email, roles: [], appMetadata: u.app_metadata, userMetadata: u.user_metadata,
    createdAt: new Date(u.created_at).toISOString(), updatedAt: new Date(u.updated_at).toISOString(),
    confirmedAt: null, lastLoginAt: null, instanceId: null, observedAt: new Date().toISOString(),
  };
}

function lastJob(id: string): RetryJob {
  throw new Error(`no job was handed off for ${id}`);
}

function signedJob(job: RetryJob, deps: TestSyncDeps) {
  const body = JSON.stringify(job);
  return { ...postEvent(body, { [RETRY_SIGNATURE_HEADER]: signRetryJob(body, deps.retryKey) }), path: RETRY_FUNCTION_PATH };
}
