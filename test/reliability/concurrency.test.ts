/**
 * Concurrency through the handlers on real PostgreSQL (PGlite serialises
 * everything, so only a real server shows lost updates and lock races):
 * a burst of wrong passwords against one account, a burst of refreshes of
 * one token, and "revoke sessions" racing refreshes. Each runs twice: with
 * the store connected to the server, and through PgBouncer in transaction
 * mode, where consecutive transactions of one client land on different
 * server connections.
 */
import bcrypt from 'bcryptjs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loginHandler, logoutHandler, refreshHandler } from '../../src/auth/handlers.js';
import type { AuthDeps } from '../../src/auth/deps.js';
import { refreshTokenHash } from '../../src/core/refresh-token.js';
import { bcryptHasher, type PasswordHasher } from '../../src/core/password.js';
import type { Store, User } from '../../src/store/store.js';
import { PASSWORD, SECRET, body, cookieValues, event, makeDeps } from '../auth/support.js';
import { openTestStore, type TestStore } from '../support/databases.js';
import { startPgBouncer } from '../support/pgbouncer.js';
import { captureLogs, leakedSecrets } from '../support/log-capture.js';
import { rawTokensAtRest } from './tables.js';

const logs = captureLogs();
const REFRESH = '__Host-rolegate_refresh';
const MAX_FAILURES_PER_ACCOUNT = 5;
const issuedTokens = new Set<string>();

for (const pooled of [false, true]) describe(`concurrent requests${pooled ? ', through PgBouncer in transaction mode' : ''}`, () => {
  let t: TestStore;
  let store: Store;
  let sql: pg.Pool;
  let deps: AuthDeps;
  let passwordHash: string;
  let login: ReturnType<typeof loginHandler>;
  let refresh: ReturnType<typeof refreshHandler>;
  let logout: ReturnType<typeof logoutHandler>;
  let userCount = 0;

  beforeAll(async () => {
    // Ten connections, as five function instances open at the store's default of two;
    // through the pooler they share four server connections.
    const through = pooled ? await startPgBouncer({ serverUrl: inject('postgresAdminUrl'), poolSize: 4 }) : undefined;
    t = await openTestStore({ maxConnections: 10, ...(through ? { through } : {}) });
    ({ store, sql } = t);
    passwordHash = bcrypt.hashSync(PASSWORD, 4);
    const base = makeDeps(store, { LOGIN_MAX_FAILURES_PER_ACCOUNT: String(MAX_FAILURES_PER_ACCOUNT), LOGIN_MAX_FAILURES_PER_IP: '100000', LOGIN_THROTTLE_WINDOW_SECONDS: '900' });
    deps = { ...base, config: { ...base.config, bcryptCost: 4 } };
    login = loginHandler(async () => deps);
    refresh = refreshHandler(async () => deps);
    logout = logoutHandler(async () => deps);
  });
  afterAll(() => t.close());

  async function newUser(): Promise<User> {
    userCount += 1;
    const r = await store.createUser({ email: `concurrency-${userCount}@example.com`, passwordHash, roles: ['member'] });
    if (r.status !== 'created') throw new Error('fixture');
    return r.user;
  }

  function remember(cookies: Record<string, string>): Record<string, string> {
    if (cookies[REFRESH]) issuedTokens.add(cookies[REFRESH]);
    return cookies;
  }

  async function signIn(user: User): Promise<Record<string, string>> {
    const r = await login(event({ json: { email: user.email, password: PASSWORD } }));
    expect(r.statusCode, r.body ?? '').toBe(200);
    return remember(cookieValues(r));
  }

  /** bcrypt whose compares all wait until `count` of them have begun (or 10 s have passed). */
  function barrierHasher(count: number): PasswordHasher {
    let begun = 0;
    let release: () => void = () => undefined;
    const allThere = new Promise<void>((resolve) => { release = resolve; });
    const timer = setTimeout(() => release(), 10_000);
    return {
      hash: bcryptHasher.hash,
      compare: async (password, hash) => {
        begun += 1;
        if (begun >= count) { clearTimeout(timer); release(); }
        await allThere;
        return bcryptHasher.compare(password, hash);
      },
    };
  }

  const postRefresh = (cookies: Record<string, string>) => refresh(event({ path: '/.netlify/functions/refresh', cookies }));

  it(`100 parallel wrong passwords for one account: exactly ${MAX_FAILURES_PER_ACCOUNT} answered, the rest throttled, every attempt counted`, async () => {
    const user = await newUser();
    // All hundred in flight at once: no compare finishes before every request has passed the
    // throttle and reached its own, as in a burst that arrives together.
    const plain = deps;
    deps = { ...plain, passwords: barrierHasher(100) };
    // A hundred addresses, so only the account's own counter can stop them.
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) =>
      login(event({ json: { email: user.email, password: `wrong password ${i}` }, headers: { 'x-nf-client-connection-ip': `198.51.100.${i}` } }))))
      .finally(() => { deps = plain; });
    const statuses = answers.map((a) => a.statusCode);
    const failed = statuses.filter((s) => s === 401).length;
    const throttled = statuses.filter((s) => s === 429).length;
    console.log(`concurrency login burst: ${failed} x 401 invalid_credentials, ${throttled} x 429 throttled (limit ${MAX_FAILURES_PER_ACCOUNT})`);
    // Before the fix all 100 guesses were checked and answered 401.
    expect(failed).toBe(MAX_FAILURES_PER_ACCOUNT);
    expect(throttled).toBe(100 - MAX_FAILURES_PER_ACCOUNT);
    for (const a of answers.filter((x) => x.statusCode === 429)) {
      expect(body(a).error.code).toBe('throttled');
      expect(Number(a.headers?.['Retry-After'])).toBeGreaterThan(0);
    }
    // No lost counts: the counter, the audit log and the per-address counters agree.
    const row = (await sql.query('select failures from rolegate.login_throttle where key = $1', [`account:${user.email}`])).rows[0];
    expect(row.failures).toBe(100);
    const audited = (await sql.query(`select count(*)::int as n from rolegate.audit_log where event = 'login_failed' and user_id = $1`, [user.id])).rows[0].n;
    expect(audited).toBe(100);
    const perAddress = (await sql.query(`select count(*)::int as n, coalesce(sum(failures), 0)::int as total from rolegate.login_throttle where key like 'ip:198.51.100.%'`)).rows[0];
    expect(perAddress).toEqual({ n: 100, total: 100 });
    // Tripped: now even the right password is refused.
    const right = await login(event({ json: { email: user.email, password: PASSWORD }, headers: { 'x-nf-client-connection-ip': '203.0.113.200' } }));
    expect(right.statusCode).toBe(429);
    expect(Number(right.headers?.['Retry-After'])).toBeGreaterThan(0);
  });

  it('the right password is refused when parallel failures reached the limit while it was being checked', async () => {
    const user = await newUser();
    const holder = await sql.connect();
    try {
      // Hold the login between its throttle check and the user lookup...
      await holder.query('begin');
      await holder.query('lock table rolegate.users in access exclusive mode');
      const pending = login(event({ json: { email: user.email, password: PASSWORD } }));
      for (let i = 0; i < 200; i += 1) {
        const { rows } = await sql.query(`select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like '%begin_login%'`);
        if (rows.length) break;
        if (i === 199) throw new Error('the login never reached the user lookup');
        await new Promise((r) => setTimeout(r, 25));
      }
      // ...while other instances count the limit's worth of failures.
      const keys = [`account:${user.email}`];
      for (let i = 0; i < MAX_FAILURES_PER_ACCOUNT; i += 1) {
        await sql.query('select rolegate.record_login_failure($1, $2, 900)', [keys, [MAX_FAILURES_PER_ACCOUNT]]);
      }
      await holder.query('commit');
      const answer = await pending;
      expect(answer.statusCode, answer.body ?? '').toBe(429);
      expect(body(answer).error.code).toBe('throttled');
      expect(cookieValues(answer)).toEqual({});
    } finally {
      holder.release();
    }
    expect((await sql.query('select count(*)::int as n from rolegate.sessions where user_id = $1', [user.id])).rows[0].n).toBe(0);
  });

  it(`${MAX_FAILURES_PER_ACCOUNT} failures one after another trip the account exactly at the limit`, async () => {
    const user = await newUser();
    for (let i = 0; i < MAX_FAILURES_PER_ACCOUNT; i += 1) {
      expect((await login(event({ json: { email: user.email, password: 'wrong password' } }))).statusCode).toBe(401);
    }
    expect((await login(event({ json: { email: user.email, password: PASSWORD } }))).statusCode).toBe(429);
    expect((await sql.query('select failures from rolegate.login_throttle where key = $1', [`account:${user.email}`])).rows[0].failures).toBe(MAX_FAILURES_PER_ACCOUNT);
  });

  it('50 parallel refreshes of one token: all succeed with the same cookie, and there is exactly one successor', async () => {
    const cookies = await signIn(await newUser());
    const answers = await Promise.all(Array.from({ length: 50 }, () => postRefresh(cookies)));
    expect(answers.map((a) => a.statusCode)).toEqual(Array(50).fill(200));
    const successors = new Set(answers.map((a) => remember(cookieValues(a))[REFRESH]));
    expect(successors.size).toBe(1);
    const { rows } = await sql.query(
      `select c.token_hash from rolegate.refresh_tokens p join rolegate.refresh_tokens c on c.parent_id = p.id where p.token_hash = $1`,
      [refreshTokenHash(cookies[REFRESH]!)]);
    expect(rows).toEqual([{ token_hash: refreshTokenHash([...successors][0]!) }]);
    // The successor carries on.
    expect((await postRefresh({ ...cookies, [REFRESH]: [...successors][0]! })).statusCode).toBe(200);
  });

  async function expectDead(token: string, label: string) {
    const r = await postRefresh({ [REFRESH]: token });
    expect(r.statusCode, `${label}: ${r.body}`).toBe(401);
    expect(['session_expired', 'refresh_token_reused']).toContain(body(r).error.code);
  }

  it('revoke-sessions racing refreshes never leaves a working refresh token behind (40 rounds, both orders)', async () => {
    let refreshedBeforeRevoke = 0;
    let refusedAfterRevoke = 0;
    for (let round = 0; round < 40; round += 1) {
      const user = await newUser();
      const cookies = await signIn(user);
      // Stagger the revocation by a varying number of turns of the event loop
      // so it lands before, between and after the rotations.
      const revoke = (async () => {
        for (let i = 0; i < round % 5; i += 1) await new Promise((r) => setImmediate(r));
        return round % 2 === 0
          ? store.revokeUserSessions(user.id, 'revoked_by_admin')
          : logout(event({ path: '/.netlify/functions/logout', json: { scope: 'global' }, cookies: { nf_jwt: cookies.nf_jwt! } }));
      })();
      const refreshes = Array.from({ length: 5 }, () => postRefresh(cookies));
      const [, ...answers] = await Promise.all([revoke, ...refreshes]);
      const issued: string[] = [];
      for (const a of answers) {
        if (a.statusCode === 200) {
          refreshedBeforeRevoke += 1;
          issued.push(remember(cookieValues(a))[REFRESH]!);
        } else {
          refusedAfterRevoke += 1;
          expect(a.statusCode).toBe(401);
        }
      }
      // After both: the old token and every token handed out in the race are dead.
      await expectDead(cookies[REFRESH]!, `round ${round}: the original token`);
      for (const token of new Set(issued)) await expectDead(token, `round ${round}: a token issued during the race`);
      const live = (await sql.query(
        `select count(*)::int as n from rolegate.refresh_tokens t join rolegate.sessions s on s.id = t.session_id
         where s.user_id = $1 and t.revoked_at is null and s.revoked_at is null`, [user.id])).rows[0].n;
      expect(live, `round ${round}`).toBe(0);
    }
    console.log(`concurrency revoke race: ${refreshedBeforeRevoke} refreshes won the race, ${refusedAfterRevoke} were refused; every token dead afterwards`);
  });

  it('logged no secret and stored no raw refresh token', async () => {
    expect(issuedTokens.size).toBeGreaterThan(20);
    const secrets = new Map<string, string>([['JWT_SECRET', SECRET], ['password', PASSWORD], ['password hash', passwordHash]]);
    for (const token of issuedTokens) secrets.set(`refresh token ${token.slice(0, 6)}…`, token);
    expect(leakedSecrets(logs.text(), secrets)).toEqual([]);
    expect(await rawTokensAtRest(sql, issuedTokens)).toEqual([]);
  });
});
