/**
 * Database faults during login and refresh, made with a real PostgreSQL
 * server of this file's own: stopped (a crash), frozen (a hung server),
 * backends terminated in the middle of a rotation, statements stuck behind a
 * lock past the configured timeout, and the answer to a committed statement
 * lost on the way back. Each time the function must answer 503
 * `unavailable` within a bound (DB_TIMEOUT_MS=2000, asserted under 10 s),
 * leave nothing half-written, and work again as soon as the database does.
 * The account flows too: recover and choosing a password, and sign-up, invitations and
 * the confirmation link (request_signup, invite_user, sign_in_with_token), and the account
 * function's new password and new address (change_password, request_email_change,
 * change_email_with_token).
 *
 * The functions are built as src/auth/runtime.ts builds them when deployed:
 * readConfig(env) reads DATABASE_URL and DB_TIMEOUT_MS, and the store is
 * opened on first use and kept for the life of the instance.
 */
import type { HandlerEvent, HandlerResponse } from '@netlify/functions';
import bcrypt from 'bcryptjs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import gateConfig from '../../rolegate.config.json' with { type: 'json' };
import { accountHandler, inviteHandler, recoverHandler, signupHandler, verifyHandler } from '../../src/auth/account-handlers.js';
import { loginHandler, logoutHandler, refreshHandler } from '../../src/auth/handlers.js';
import type { AuthDeps } from '../../src/auth/deps.js';
import { signAccessTokenWithJose } from '../../src/core/access-token.js';
import { readConfig, type Env } from '../../src/core/environment.js';
import { DEFAULT_ACCOUNT_SETTINGS, type AccountSettings } from '../../src/site-config/account-settings.js';
import { gateTableFromConfig } from '../../src/gates/compile.js';
import { openStoreOnFirstUse } from '../../src/store/open-store.js';
import { emailTokenHash as sha256Hex, newEmailToken } from '../../src/core/email-token.js';
import { newRefreshToken, refreshTokenHash, successorRefreshToken } from '../../src/core/refresh-token.js';
import { POOL_DEFAULTS, migratePostgres } from '../../src/store/postgres.js';
import { PASSWORD, SECRET, SITE, body, cookieValues, event, setCookies } from '../auth/support.js';
import { startCuttingProxy, type CuttingProxy } from '../support/cutting-proxy.js';
import { captureLogs, leakedSecrets } from '../support/log-capture.js';
import { createClusterDatabase, startRestartableCluster, type RestartableCluster } from '../support/restartable-postgres.js';
import { rawTokensAtRest } from './tables.js';

const logs = captureLogs();
const REFRESH = '__Host-rolegate_refresh';
const TIMEOUT_MS = 2000;
/** Generous: the configured timeout is 2 s; a hang would be the test's 30 s limit. */
const BOUND_MS = 10_000;
const issuedTokens = new Set<string>();
/** Every recovery link's token: never logged, never stored raw. */
const linkTokens = new Set<string>();

type Handler = (event: HandlerEvent) => Promise<HandlerResponse>;

describe('database faults during login, refresh, logout, recover, verify, sign-up, invite and account', () => {
  let cluster: RestartableCluster;
  let proxy: CuttingProxy;
  let url: string;
  let admin: pg.Pool;
  let login: Handler;
  let refresh: Handler;
  let logout: Handler;
  /** The same functions, reaching the database through the cutting proxy. */
  let viaProxy: { login: Handler; refresh: Handler; verify: Handler };
  /** Sign-up and invite under an open registration (new users get "member"); an admin's access token for the invitations. */
  let signup: Handler;
  let invite: Handler;
  /** The account function (a new password, a new address), on the same instance as sign-up. */
  let account: Handler;
  let adminAccessToken: string;
  let recover: Handler;
  let verify: Handler;
  let runtime: () => Promise<AuthDeps>;
  /** The account whose password the recovery scenarios reset (the login scenarios keep theirs). */
  const resetEmail = 'faults-reset@example.com';
  let resetUserId: string;
  let email: string;
  let passwordHash: string;
  let userId: string;

  /** One function instance's dependencies, as src/auth/runtime.ts makes them. */
  function runtimeFor(environment: Env, accounts?: AccountSettings): () => Promise<AuthDeps> {
    const config = readConfig(environment);
    const deps: AuthDeps = { store: openStoreOnFirstUse(config.database), config: config.auth, gates: gateTableFromConfig(gateConfig), now: () => Math.floor(Date.now() / 1000), ...(accounts ? { accounts, mail: config.mail } : {}) };
    return async () => deps;
  }

  function env(databaseUrl: string) {
    return { JWT_SECRET: SECRET, SITE_URL: SITE, DATABASE_URL: databaseUrl, DB_TIMEOUT_MS: String(TIMEOUT_MS) };
  }

  beforeAll(async () => {
    cluster = await startRestartableCluster();
    url = await createClusterDatabase(cluster, 'rolegate_faults');
    await migratePostgres(url);
    admin = new pg.Pool({ connectionString: url, max: 3 });
    admin.on('error', () => undefined);
    // The test's own inspection connections may be handed out stale right
    // after a restart; one retry on a fresh connection is enough for them.
    const query = admin.query.bind(admin) as (...args: unknown[]) => Promise<unknown>;
    (admin as unknown as { query: typeof query }).query = async (...args: unknown[]) => {
      try {
        return await query(...args);
      } catch (error) {
        if (!/Connection terminated/.test(String(error))) throw error;
        return query(...args);
      }
    };
    passwordHash = bcrypt.hashSync(PASSWORD, 4);
    email = 'faults@example.com';
    userId = (await admin.query(`select (rolegate.create_user($1, $2, '{member}')->'user'->>'id') as id`, [email, passwordHash])).rows[0].id;
    expect(readConfig(env(url)).database).toMatchObject({ kind: 'postgres', timeoutMs: TIMEOUT_MS });
    runtime = runtimeFor(env(url));
    resetUserId = (await admin.query(`select (rolegate.create_user($1, $2, '{member}')->'user'->>'id') as id`, [resetEmail, passwordHash])).rows[0].id;
    recover = recoverHandler(runtime);
    verify = verifyHandler(runtime);
    login = loginHandler(runtime);
    refresh = refreshHandler(runtime);
    logout = logoutHandler(runtime);
    proxy = await startCuttingProxy({ host: '127.0.0.1', port: cluster.port });
    const proxied = new URL(url);
    proxied.port = String(proxy.port);
    const proxyRuntime = runtimeFor(env(proxied.toString()));
    viaProxy = { login: loginHandler(proxyRuntime), refresh: refreshHandler(proxyRuntime), verify: verifyHandler(proxyRuntime) };
    const openRuntime = runtimeFor(env(url), { ...DEFAULT_ACCOUNT_SETTINGS, registration: 'open', newUserRoles: ['member'] });
    signup = signupHandler(openRuntime);
    invite = inviteHandler(openRuntime);
    account = accountHandler(openRuntime);
    const adminId = (await admin.query(`select (rolegate.create_user('faults-admin@example.com', $1, '{admin}')->'user'->>'id') as id`, [passwordHash])).rows[0].id;
    const auth = readConfig(env(url)).auth;
    // An invitation needs the admin's live session (0eeee79), so the token names a real one.
    const adminRefresh = newRefreshToken();
    issuedTokens.add(adminRefresh);
    const adminSession = await (await runtime()).store.createSession({ userId: adminId, refreshTokenHash: refreshTokenHash(adminRefresh), refreshTtlSeconds: 3600 });
    if (adminSession.status !== 'created') throw new Error('fixture session');
    ({ token: adminAccessToken } = await signAccessTokenWithJose({
      subject: { id: adminId, email: 'faults-admin@example.com', roles: ['admin'] }, sessionId: adminSession.sessionId,
      secret: auth.jwtSecret, issuer: auth.jwtIssuer, ttlSeconds: 3600, now: Math.floor(Date.now() / 1000),
    }));
  });
  afterAll(async () => {
    await admin?.end().catch(() => undefined);
    await proxy?.close();
    cluster?.destroy();
  });

  // ------------------------------------------------------------ helpers

  const loginEvent = () => event({ path: '/.netlify/functions/login', json: { email, password: PASSWORD } });
  const refreshEvent = (cookies: Record<string, string>) => event({ path: '/.netlify/functions/refresh', cookies });
  const bounceEvent = (cookies: Record<string, string>) => event({ method: 'GET', path: '/.netlify/functions/refresh/members/page', cookies, origin: null });

  function remember(response: HandlerResponse): Record<string, string> {
    const cookies = cookieValues(response);
    if (cookies[REFRESH]) issuedTokens.add(cookies[REFRESH]);
    return cookies;
  }

  async function signIn(handler = login): Promise<Record<string, string>> {
    const r = await handler(loginEvent());
    expect(r.statusCode, r.body ?? '').toBe(200);
    return remember(r);
  }

  /** The answer, which must be a 503 `unavailable` that keeps the visitor's cookies, within the bound. */
  async function expectUnavailable(pending: Promise<HandlerResponse>): Promise<number> {
    const started = Date.now();
    const response = await pending;
    const elapsed = Date.now() - started;
    expect(response.statusCode, response.body ?? '').toBe(503);
    expect(body(response)).toEqual({ error: { code: 'unavailable', message: expect.any(String) } });
    expect(setCookies(response)).toEqual([]);
    expect(elapsed).toBeLessThan(BOUND_MS);
    return elapsed;
  }

  /**
   * Nothing half-done: every session has exactly one first token, every
   * token that was used has exactly one successor and every unused one none.
   */
  async function expectConsistentTree(): Promise<void> {
    const { rows } = await admin.query(`
      select
        (select count(*)::int from rolegate.sessions s
          where (select count(*) from rolegate.refresh_tokens t where t.session_id = s.id and t.parent_id is null) <> 1) as sessions_without_one_root,
        (select count(*)::int from rolegate.refresh_tokens t
          where (t.used_at is not null) <> exists (select 1 from rolegate.refresh_tokens c where c.parent_id = t.id)) as tokens_half_rotated`);
    expect(rows[0]).toEqual({ sessions_without_one_root: 0, tokens_half_rotated: 0 });
  }

  async function tokenRow(token: string) {
    const { rows } = await admin.query(
      `select t.id, t.used_at, t.revoked_at, s.revoked_at as session_revoked_at,
              (select count(*)::int from rolegate.refresh_tokens c where c.parent_id = t.id) as children,
              (select c.token_hash from rolegate.refresh_tokens c where c.parent_id = t.id) as child_hash
       from rolegate.refresh_tokens t join rolegate.sessions s on s.id = t.session_id where t.token_hash = $1`,
      [refreshTokenHash(token)]);
    return rows[0];
  }

  async function counts() {
    const { rows } = await admin.query(`select
      (select count(*)::int from rolegate.sessions where user_id = $1) as sessions,
      (select count(*)::int from rolegate.refresh_tokens) as tokens,
      (select count(*)::int from rolegate.audit_log where event = 'login_succeeded') as logins`, [userId]);
    return rows[0] as { sessions: number; tokens: number; logins: number };
  }

  /** Waits (bounded) until some backend is blocked on a lock running `fn`, and returns its pid. */
  async function blockedBackend(fn: string): Promise<number> {
    for (let i = 0; i < 200; i += 1) {
      const { rows } = await admin.query(
        `select pid from pg_stat_activity where wait_event_type = 'Lock' and query like $1`, [`%rolegate.${fn}(%`]);
      if (rows[0]) return rows[0].pid as number;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`no backend blocked in ${fn}`);
  }

  /** An admin transaction that makes the next rotation of `token` stop after its first write. */
  async function holdSuccessorSlot(token: string): Promise<pg.PoolClient> {
    const holder = await admin.connect();
    holder.on('error', () => undefined);
    await holder.query('begin');
    // The rotation marks the token used, then inserts its successor; a
    // concurrent uncommitted row with the successor's hash makes that insert
    // wait on the unique index, with the first write already done.
    await holder.query(
      `insert into rolegate.refresh_tokens (token_hash, session_id, expires_at)
       select $1, session_id, now() + interval '1 hour' from rolegate.refresh_tokens where token_hash = $2`,
      [refreshTokenHash(successorRefreshToken(token, readConfig(env(url)).auth.jwtSecret)), refreshTokenHash(token)]);
    return holder;
  }

  async function expectRefreshWorksOnce(cookies: Record<string, string>): Promise<Record<string, string>> {
    const r = await refresh(refreshEvent(cookies));
    expect(r.statusCode, r.body ?? '').toBe(200);
    const next = remember(r);
    const row = await tokenRow(cookies[REFRESH]!);
    expect(row).toMatchObject({ children: 1, child_hash: refreshTokenHash(next[REFRESH]!), revoked_at: null, session_revoked_at: null });
    // And the successor works in turn: no lockout.
    const again = await refresh(refreshEvent(next));
    expect(again.statusCode, again.body ?? '').toBe(200);
    return remember(again);
  }

  // ------------------------------------------------------------ scenarios

  it('server stopped: login, refresh and the bounce answer 503 in bounded time; all work the moment it is back', async () => {
    const cookies = await signIn();
    const before = await counts();
    cluster.stop();
    try {
      const elapsed = [
        await expectUnavailable(login(loginEvent())),
        await expectUnavailable(refresh(refreshEvent(cookies))),
        await expectUnavailable(refresh(bounceEvent(cookies))),
      ];
      console.log(`fault server-stopped: 503 after ${elapsed.join(' / ')} ms (login / refresh / bounce)`);
      // A browser the gate sent here reads a page, with a link that retries the same bounce.
      const page = await refresh({ ...bounceEvent(cookies), headers: { ...bounceEvent(cookies).headers, accept: 'text/html,application/xhtml+xml' } });
      expect(page.statusCode).toBe(503);
      expect(page.headers?.['Content-Type']).toBe('text/html; charset=utf-8');
      expect(page.headers?.['X-Rolegate-Error']).toBe('unavailable');
      expect(page.headers?.['Retry-After']).toBe('5');
      expect(page.body).toContain('<a href="/.netlify/functions/refresh/members/page">Try again</a>');
      expect(setCookies(page)).toEqual([]);
    } finally {
      cluster.start();
    }
    expect(await counts()).toEqual(before);
    // The very first requests after the restart succeed, on the same function instance.
    await signIn();
    await expectRefreshWorksOnce(cookies);
    await expectConsistentTree();
  });

  it('restarted while the instance was not looking (a frozen Lambda): stale pooled connections cost at most one 503 each, never a 500', async () => {
    const cookies = await signIn();
    await refresh(refreshEvent(cookies));
    // Stop and start with no turn of the event loop in between: the pool
    // cannot have seen its connections close, as after a Lambda freeze.
    cluster.stop();
    cluster.start();
    const answers: number[] = [];
    let fresh: HandlerResponse | undefined;
    // At most one 503 for each stale connection the store's pool can hold.
    for (let attempt = 0; attempt <= POOL_DEFAULTS.maxConnections && fresh?.statusCode !== 200; attempt += 1) {
      fresh = await login(loginEvent());
      answers.push(fresh.statusCode);
      if (fresh.statusCode !== 200) expect(body(fresh).error.code).toBe('unavailable');
    }
    console.log(`fault restart-unseen-by-instance: login answers ${answers.join(', ')}`);
    expect(fresh!.statusCode).toBe(200);
    remember(fresh!);
    await expectConsistentTree();
  });

  it('logout while the server is stopped: 503 in bounded time, nothing changed; the same session signs out once it is back', async () => {
    const cookies = await signIn();
    const logoutEvent = () => event({ path: '/.netlify/functions/logout', json: { scope: 'local' }, cookies });
    const before = (await admin.query('select count(*)::int as n from rolegate.sessions where revoked_at is null')).rows[0].n;
    cluster.stop();
    let answer: HandlerResponse;
    const started = Date.now();
    try {
      answer = await logout(logoutEvent());
    } finally {
      cluster.start();
    }
    const elapsed = Date.now() - started;
    console.log(`fault logout-server-stopped: ${answer.statusCode} after ${elapsed} ms`);
    expect(answer.statusCode).toBe(503);
    expect(body(answer).error.code).toBe('unavailable');
    expect(elapsed).toBeLessThan(BOUND_MS);
    expect((await admin.query('select count(*)::int as n from rolegate.sessions where revoked_at is null')).rows[0].n).toBe(before);
    // The known limit SECURITY.md states: the browser's cookies go even though nothing ended on the server.
    const deleted = (answer.multiValueHeaders?.['Set-Cookie'] ?? []).map(String);
    expect(deleted).toEqual(expect.arrayContaining([expect.stringMatching(/^nf_jwt=;.*Max-Age=0/), expect.stringMatching(/^__Host-rolegate_refresh=;.*Max-Age=0/)]));
    let again = await logout(logoutEvent());
    // At most one stale pooled connection per answer (see the restart test).
    for (let i = 0; i < 5 && again.statusCode === 503; i += 1) again = await logout(logoutEvent());
    expect(again.statusCode, again.body ?? '').toBe(200);
    expect((await refresh(refreshEvent(cookies))).statusCode).toBe(401);
  });

  it('server hung (every process frozen): 503 within the bound, then the interrupted refresh can be repeated', async () => {
    const cookies = await signIn();
    cluster.freeze(true);
    let elapsed: number[];
    try {
      elapsed = [await expectUnavailable(login(loginEvent())), await expectUnavailable(refresh(refreshEvent(cookies)))];
    } finally {
      cluster.freeze(false);
    }
    console.log(`fault server-hung: 503 after ${elapsed.join(' / ')} ms (login / refresh)`);
    // A frozen server may still run what it had already received once it
    // thaws; whether or not the rotation landed, the same cookie refreshes
    // within the grace interval and the tree keeps one successor.
    await expectRefreshWorksOnce(cookies);
    await expectConsistentTree();
  });

  it('refresh terminated mid-rotation (pg_terminate_backend after the token was marked used): 503, rolled back, refreshes again', async () => {
    const cookies = await signIn();
    const holder = await holdSuccessorSlot(cookies[REFRESH]!);
    try {
      const pending = refresh(refreshEvent(cookies));
      const pid = await blockedBackend('rotate_refresh_token');
      await admin.query('select pg_terminate_backend($1)', [pid]);
      const elapsed = await expectUnavailable(pending);
      console.log(`fault refresh-terminated-mid-rotation: 503 after ${elapsed} ms`);
    } finally {
      await holder.query('rollback');
      holder.release();
    }
    expect(await tokenRow(cookies[REFRESH]!)).toMatchObject({ used_at: null, children: 0, revoked_at: null, session_revoked_at: null });
    await expectRefreshWorksOnce(cookies);
    await expectConsistentTree();
  });

  it('server stopped mid-rotation: 503, nothing of the rotation survives the restart, refreshes again', async () => {
    const cookies = await signIn();
    const holder = await holdSuccessorSlot(cookies[REFRESH]!);
    try {
      const pending = refresh(refreshEvent(cookies));
      await blockedBackend('rotate_refresh_token');
      cluster.stop();
      const elapsed = await expectUnavailable(pending);
      console.log(`fault server-stopped-mid-rotation: 503 after ${elapsed} ms`);
    } finally {
      holder.release(true);
      cluster.start();
    }
    expect(await tokenRow(cookies[REFRESH]!)).toMatchObject({ used_at: null, children: 0 });
    await expectRefreshWorksOnce(cookies);
    await expectConsistentTree();
  });

  it('refresh stuck behind a lock past DB_TIMEOUT_MS: 503 within the bound, rolled back, refreshes again', async () => {
    const cookies = await signIn();
    const holder = await holdSuccessorSlot(cookies[REFRESH]!);
    try {
      const elapsed = await expectUnavailable(refresh(refreshEvent(cookies)));
      console.log(`fault refresh-statement-timeout: 503 after ${elapsed} ms`);
    } finally {
      await holder.query('rollback');
      holder.release();
    }
    expect(await tokenRow(cookies[REFRESH]!)).toMatchObject({ used_at: null, children: 0 });
    await expectRefreshWorksOnce(cookies);
    await expectConsistentTree();
  });

  it('login terminated inside create_session: 503, no session, token or audit row, the throttle untouched; signs in again', async () => {
    await signIn();
    const before = await counts();
    const holder = await admin.connect();
    holder.on('error', () => undefined);
    await holder.query('begin');
    // The new session's foreign key needs a share lock on the user row.
    await holder.query('select 1 from rolegate.users where id = $1 for update', [userId]);
    try {
      const pending = login(loginEvent());
      const pid = await blockedBackend('create_session');
      await admin.query('select pg_terminate_backend($1)', [pid]);
      const elapsed = await expectUnavailable(pending);
      console.log(`fault login-terminated-in-create_session: 503 after ${elapsed} ms`);
    } finally {
      await holder.query('rollback');
      holder.release();
    }
    expect(await counts()).toEqual(before);
    expect((await admin.query(`select count(*)::int as n from rolegate.login_throttle where key = $1`, [`account:${email}`])).rows[0].n).toBe(0);
    await signIn();
    await expectConsistentTree();
  });

  it('a refresh whose answer is lost after the commit: 503, and the same cookie still refreshes to the one successor', async () => {
    const cookies = await signIn(viaProxy.login);
    const cut = proxy.cutAfterReplyTo('rotate_refresh_token');
    const elapsed = await expectUnavailable(viaProxy.refresh(refreshEvent(cookies)));
    await cut;
    console.log(`fault refresh-answer-lost-after-commit: 503 after ${elapsed} ms`);
    // The rotation did commit: the token is used and has its successor.
    const committed = await tokenRow(cookies[REFRESH]!);
    expect(committed).toMatchObject({ children: 1, revoked_at: null, session_revoked_at: null });
    expect(committed.used_at).not.toBeNull();
    // Retried within REFRESH_GRACE_SECONDS, the same cookie gets that same successor, not a second one.
    const retry = await viaProxy.refresh(refreshEvent(cookies));
    expect(retry.statusCode, retry.body ?? '').toBe(200);
    const next = remember(retry);
    expect(refreshTokenHash(next[REFRESH]!)).toBe(committed.child_hash);
    expect(await tokenRow(cookies[REFRESH]!)).toMatchObject({ children: 1 });
    expect((await viaProxy.refresh(refreshEvent(next))).statusCode).toBe(200);
    await expectConsistentTree();
  });

  it('a login whose answer is lost after the commit: 503; the session left behind is whole, and signing in again works', async () => {
    const before = await counts();
    const cut = proxy.cutAfterReplyTo('create_session');
    await expectUnavailable(viaProxy.login(loginEvent()));
    await cut;
    // One complete session that nobody holds a token for (it expires with its refresh TTL).
    expect(await counts()).toEqual({ sessions: before.sessions + 1, tokens: before.tokens + 1, logins: before.logins + 1 });
    await expectConsistentTree();
    await signIn(viaProxy.login);
  });

  // ------------------------------------------------------------ the account flows: recover and verify

  /** A recovery link is used wholly or not at all: token, password, sessions and the new session together. */
  async function linkState(token: string, oldSessionId: string, newPassword: string) {
    const { rows } = await admin.query(`select
      (select used_at is not null from rolegate.email_tokens where token_hash = $1) as used,
      (select password_hash from rolegate.users where id = $2) as password_hash,
      (select revoked_at is not null from rolegate.sessions where id = $3) as old_session_ended,
      (select count(*)::int from rolegate.sessions where user_id = $2 and id <> $3 and revoked_at is null) as new_sessions,
      (select count(*)::int from rolegate.refresh_tokens t join rolegate.sessions s on s.id = t.session_id where s.user_id = $2 and s.id <> $3 and s.revoked_at is null) as new_tokens`,
    [sha256Hex(token), resetUserId, oldSessionId]);
    const row = rows[0];
    return { used: row.used, passwordChanged: bcrypt.compareSync(newPassword, row.password_hash), oldSessionEnded: row.old_session_ended, newSessions: row.new_sessions, newTokens: row.new_tokens };
  }
  const UNUSED = { used: false, passwordChanged: false, oldSessionEnded: false, newSessions: 0, newTokens: 0 };
  const USED = { used: true, passwordChanged: true, oldSessionEnded: true, newSessions: 1, newTokens: 1 };

  /** A live recovery link for the reset user, and a session of theirs the reset must end (older sessions ended first). */
  async function freshLink(): Promise<{ token: string; oldSessionId: string; newPassword: string }> {
    await admin.query(`update rolegate.sessions set revoked_at = now(), revoked_reason = 'fixture' where user_id = $1 and revoked_at is null`, [resetUserId]);
    const token = newEmailToken();
    await admin.query(`insert into rolegate.email_tokens (token_hash, purpose, user_id, email, expires_at) values ($1, 'recovery', $2, $3, now() + interval '1 hour')`, [sha256Hex(token), resetUserId, resetEmail]);
    const refreshToken = newRefreshToken();
    issuedTokens.add(refreshToken);
    const session = await (await runtime()).store.createSession({ userId: resetUserId, refreshTokenHash: refreshTokenHash(refreshToken), refreshTtlSeconds: 3600 });
    if (session.status !== 'created') throw new Error('fixture session');
    linkTokens.add(token);
    return { token, oldSessionId: session.sessionId, newPassword: `new passphrase ${token.slice(0, 8)}` };
  }

  const recoverEvent = (address: string, form = false) => event(form ? { path: '/.netlify/functions/recover', form: { email: address } } : { path: '/.netlify/functions/recover', json: { email: address } });

  /** Waits (bounded) until no backend runs `fn` any more: a thawed server may still finish what it had received. */
  async function settled(fn: string): Promise<void> {
    for (let i = 0; i < 200; i += 1) {
      const { rows } = await admin.query(
        `select count(*)::int as n from pg_stat_activity where state = 'active' and pid <> pg_backend_pid() and query like $1`, [`%rolegate.${fn}(%`]);
      if (rows[0].n === 0) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`a backend still runs ${fn}`);
  }
  const openLinkEvent = (token: string) => event({ method: 'GET', path: '/auth/verify', query: `token=${token}`, origin: null });
  const choosePasswordEvent = (token: string, password: string, form = false) => form
    ? event({ path: '/auth/verify', form: { password, password_confirm: password }, cookies: { rolegate_link: token } })
    : event({ path: '/.netlify/functions/verify', json: { token, password } });

  /** A page (the link opened in a browser, or the form posted) saying the service is unavailable: 503, no stack, the link cookie kept. */
  async function expectUnavailablePage(pending: Promise<HandlerResponse>): Promise<number> {
    const started = Date.now();
    const response = await pending;
    const elapsed = Date.now() - started;
    expect(response.statusCode, response.body ?? '').toBe(503);
    expect(response.headers?.['Content-Type']).toBe('text/html; charset=utf-8');
    expect(response.headers?.['X-Rolegate-Error']).toBe('unavailable');
    expect(response.headers?.['Retry-After']).toBe('5');
    expect(response.body).toContain('<meta name="rolegate-error" content="unavailable">');
    expect(response.body).not.toMatch(/\n\s+at\s|\.[cm]?[jt]s:\d+|node_modules|ECONNREFUSED|rolegate\.\w+\(/);
    for (const cookie of setCookies(response)) expect(cookie, 'no live cookie on a 503 page').toMatch(/^rolegate_link=;.*Max-Age=0/);
    expect(elapsed).toBeLessThan(BOUND_MS);
    return elapsed;
  }

  async function mailState() {
    const { rows } = await admin.query(`select
      (select count(*)::int from rolegate.email_tokens where user_id = $1) as tokens,
      (select count(*)::int from rolegate.mail_outbox where recipient = $2) as mails,
      (select coalesce(sum(failures), 0)::int from rolegate.login_throttle where key like 'mail:%') as counted`, [resetUserId, resetEmail]);
    return rows[0] as { tokens: number; mails: number; counted: number };
  }

  /** After the fault: the same link works exactly once, and a second use is refused as used. */
  async function expectLinkWorksOnce(link: { token: string; oldSessionId: string; newPassword: string }, handler = verify) {
    let chosen = await handler(choosePasswordEvent(link.token, link.newPassword));
    // At most one stale pooled connection per answer (see the restart test).
    for (let i = 0; i < 5 && chosen.statusCode === 503; i += 1) chosen = await handler(choosePasswordEvent(link.token, link.newPassword));
    expect(chosen.statusCode, chosen.body ?? '').toBe(200);
    remember(chosen);
    expect(await linkState(link.token, link.oldSessionId, link.newPassword)).toEqual(USED);
    const again = await handler(choosePasswordEvent(link.token, `${link.newPassword}!`));
    expect([again.statusCode, body(again).error.code]).toEqual([410, 'link_used']);
  }

  it('server stopped: recover, opening a link and choosing a password answer 503 (a page for the browser) in bounded time, nothing changed; the link works once after', async () => {
    const link = await freshLink();
    const mailsBefore = await mailState();
    cluster.stop();
    let elapsed: number[];
    try {
      elapsed = [
        await expectUnavailable(recover(recoverEvent(email))),
        // The forgot-password form gets a page to read and retry from.
        await expectUnavailablePage(recover(recoverEvent(email, true))),
        await expectUnavailablePage(verify(openLinkEvent(link.token))),
        await expectUnavailable(verify(choosePasswordEvent(link.token, link.newPassword))),
        await expectUnavailablePage(verify(choosePasswordEvent(link.token, link.newPassword, true))),
      ];
    } finally {
      cluster.start();
    }
    console.log(`fault account-server-stopped: 503 after ${elapsed.join(' / ')} ms (recover / recover form / open link / choose password / choose password form)`);
    expect(await mailState()).toEqual(mailsBefore);
    expect(await linkState(link.token, link.oldSessionId, link.newPassword)).toEqual(UNUSED);
    // The same link opens and works once the database is back, on the same instance.
    let opened = await verify(openLinkEvent(link.token));
    for (let i = 0; i < 5 && opened.statusCode === 503; i += 1) opened = await verify(openLinkEvent(link.token));
    expect([opened.statusCode, opened.headers?.Location]).toEqual([303, '/choose-password']);
    await expectLinkWorksOnce(link);
    await expectConsistentTree();
  });

  it('server hung: recover and choosing a password answer 503 within the bound; the link is then used wholly or not at all, and works once', async () => {
    const link = await freshLink();
    cluster.freeze(true);
    let elapsed: number[];
    try {
      // Another address's recovery: a new link for the reset user would retire this one.
      elapsed = [await expectUnavailable(recover(recoverEvent(email))), await expectUnavailable(verify(choosePasswordEvent(link.token, link.newPassword)))];
    } finally {
      cluster.freeze(false);
    }
    await settled('reset_password_with_token');
    console.log(`fault account-server-hung: 503 after ${elapsed.join(' / ')} ms (recover / choose password)`);
    // A thawed server may still run what it had received: either outcome, never half of one.
    const state = await linkState(link.token, link.oldSessionId, link.newPassword);
    expect([UNUSED, USED]).toContainEqual(state);
    if (!state.used) await expectLinkWorksOnce(link);
    await expectConsistentTree();
  });

  it('choosing a password, terminated inside reset_password_with_token after the token was marked used: 503, all rolled back, the link works once', async () => {
    const link = await freshLink();
    const holder = await admin.connect();
    holder.on('error', () => undefined);
    await holder.query('begin');
    // The reset marks the token used, then updates the user row, which this lock holds.
    await holder.query('select 1 from rolegate.users where id = $1 for update', [resetUserId]);
    try {
      const pending = verify(choosePasswordEvent(link.token, link.newPassword));
      const pid = await blockedBackend('reset_password_with_token');
      await admin.query('select pg_terminate_backend($1)', [pid]);
      const elapsed = await expectUnavailable(pending);
      console.log(`fault reset-terminated-mid-call: 503 after ${elapsed} ms`);
    } finally {
      await holder.query('rollback');
      holder.release();
    }
    expect(await linkState(link.token, link.oldSessionId, link.newPassword)).toEqual(UNUSED);
    await expectLinkWorksOnce(link);
    await expectConsistentTree();
  });

  it('choosing a password stuck behind a lock past DB_TIMEOUT_MS (the form): a 503 page within the bound, rolled back, the link works once', async () => {
    const link = await freshLink();
    const holder = await admin.connect();
    holder.on('error', () => undefined);
    await holder.query('begin');
    await holder.query('select 1 from rolegate.users where id = $1 for update', [resetUserId]);
    try {
      const elapsed = await expectUnavailablePage(verify(choosePasswordEvent(link.token, link.newPassword, true)));
      console.log(`fault reset-statement-timeout: 503 after ${elapsed} ms`);
    } finally {
      await holder.query('rollback');
      holder.release();
    }
    expect(await linkState(link.token, link.oldSessionId, link.newPassword)).toEqual(UNUSED);
    await expectLinkWorksOnce(link);
  });

  it('a password reset whose answer is lost after the commit: 503, and the link is wholly used (password, sessions, new session); a retry says used', async () => {
    const link = await freshLink();
    const cut = proxy.cutAfterReplyTo('reset_password_with_token');
    const elapsed = await expectUnavailable(viaProxy.verify(choosePasswordEvent(link.token, link.newPassword)));
    await cut;
    console.log(`fault reset-answer-lost-after-commit: 503 after ${elapsed} ms`);
    expect(await linkState(link.token, link.oldSessionId, link.newPassword)).toEqual(USED);
    const retry = await viaProxy.verify(choosePasswordEvent(link.token, link.newPassword));
    expect([retry.statusCode, body(retry).error.code]).toEqual([410, 'link_used']);
    await expectConsistentTree();
  });

  it('recover terminated inside request_account_mail: 503, no token, no mail and the request not counted; the next request queues one', async () => {
    const link = await freshLink();
    const before = await mailState();
    const holder = await admin.connect();
    holder.on('error', () => undefined);
    await holder.query('begin');
    // The request retires the user's unused tokens first: this lock holds it there, after it counted the request.
    await holder.query('select 1 from rolegate.email_tokens where token_hash = $1 for update', [sha256Hex(link.token)]);
    try {
      const pending = recover(recoverEvent(resetEmail));
      const pid = await blockedBackend('request_account_mail');
      await admin.query('select pg_terminate_backend($1)', [pid]);
      const elapsed = await expectUnavailable(pending);
      console.log(`fault recover-terminated-mid-call: 503 after ${elapsed} ms`);
    } finally {
      await holder.query('rollback');
      holder.release();
    }
    expect(await mailState()).toEqual(before);
    expect((await linkState(link.token, link.oldSessionId, link.newPassword)).used).toBe(false);
    const again = await recover(recoverEvent(resetEmail));
    expect(again.statusCode, again.body ?? '').toBe(202);
    expect(await mailState()).toMatchObject({ tokens: before.tokens + 1, mails: before.mails + 1 });
    // Only the newest link works: the one the fault left alone is retired.
    expect((await linkState(link.token, link.oldSessionId, link.newPassword)).used).toBe(true);
  });

  // ------------------------------------------------------------ sign-up, invitations and the links that sign in

  let addressCount = 0;
  const newAddress = (what: string) => `faults-${what}-${(addressCount += 1)}@example.com`;
  const signupEvent = (address: string, form = false) => form
    ? event({ path: '/auth/signup', form: { email: address, password: PASSWORD } })
    : event({ path: '/.netlify/functions/signup', json: { email: address, password: PASSWORD } });
  const inviteEvent = (address: string) => event({ path: '/.netlify/functions/invite', json: { email: address, roles: ['editor'] }, cookies: { nf_jwt: adminAccessToken } });
  const confirmEvent = (token: string) => event({ path: '/.netlify/functions/verify', json: { token } });

  /** What an address has: users, tokens and mails, and what every mail limit has counted (all addresses, all senders). */
  async function addressState(address: string) {
    const { rows } = await admin.query(`select
      (select count(*)::int from rolegate.users where lower(email) = $1) as users,
      (select count(*)::int from rolegate.email_tokens where email = $1) as tokens,
      (select count(*)::int from rolegate.mail_outbox where recipient = $1) as mails,
      (select coalesce(sum(failures), 0)::int from rolegate.login_throttle where key like 'mail:%') as counted`, [address]);
    return rows[0] as { users: number; tokens: number; mails: number; counted: number };
  }
  const NOTHING = { users: 0, tokens: 0, mails: 0 };

  /** The answer once the instance's stale pooled connections are gone (at most one 503 each, see the restart test). */
  async function answered(send: () => Promise<HandlerResponse>): Promise<HandlerResponse> {
    let response = await send();
    for (let i = 0; i < 5 && response.statusCode === 503; i += 1) response = await send();
    return response;
  }

  /** The sign-up (or invitation) the fault cut short works now: the user, one token and one mail, counted once. */
  async function expectAccountMade(send: () => Promise<HandlerResponse>, address: string, status: number, purpose: 'signup' | 'invite') {
    const before = await addressState(address);
    const response = await answered(send);
    expect(response.statusCode, response.body ?? '').toBe(status);
    expect(await addressState(address)).toEqual({ users: 1, tokens: 1, mails: 1, counted: before.counted + 2 });
    const { rows } = await admin.query(`select u.password_hash is not null as has_password, u.email_confirmed_at, u.roles, t.purpose, m.template
      from rolegate.users u join rolegate.email_tokens t on t.user_id = u.id join rolegate.mail_outbox m on m.recipient = u.email where lower(u.email) = $1`, [address]);
    expect(rows).toEqual([{ has_password: purpose === 'signup', email_confirmed_at: null, roles: [purpose === 'signup' ? 'member' : 'editor'], purpose, template: purpose }]);
  }

  /** A sign-up waiting for its confirmation (a password, the address unconfirmed) and its live link. */
  async function freshConfirmation(): Promise<{ token: string; userId: string }> {
    const address = newAddress('confirm');
    const userId = (await admin.query(`insert into rolegate.users (email, password_hash, roles, email_confirmed_at) values ($1, $2, '{member}', null) returning id`, [address, passwordHash])).rows[0].id;
    const token = newEmailToken();
    await admin.query(`insert into rolegate.email_tokens (token_hash, purpose, user_id, email, expires_at) values ($1, 'signup', $2, $3, now() + interval '1 hour')`, [sha256Hex(token), userId, address]);
    linkTokens.add(token);
    return { token, userId };
  }

  /** A confirmation link is used wholly or not at all: token, address and the new session together. */
  async function confirmationState(link: { token: string; userId: string }) {
    const { rows } = await admin.query(`select
      (select used_at is not null from rolegate.email_tokens where token_hash = $1) as used,
      (select email_confirmed_at is not null from rolegate.users where id = $2) as confirmed,
      (select count(*)::int from rolegate.sessions where user_id = $2 and revoked_at is null) as sessions,
      (select count(*)::int from rolegate.refresh_tokens t join rolegate.sessions s on s.id = t.session_id where s.user_id = $2) as tokens`,
    [sha256Hex(link.token), link.userId]);
    return rows[0];
  }
  const UNCONFIRMED = { used: false, confirmed: false, sessions: 0, tokens: 0 };
  const CONFIRMED = { used: true, confirmed: true, sessions: 1, tokens: 1 };

  async function expectConfirmsOnce(link: { token: string; userId: string }, handler = verify) {
    const confirmed = await answered(() => handler(confirmEvent(link.token)));
    expect(confirmed.statusCode, confirmed.body ?? '').toBe(200);
    remember(confirmed);
    expect(body(confirmed).user.id).toBe(link.userId);
    expect(await confirmationState(link)).toEqual(CONFIRMED);
    const again = await handler(confirmEvent(link.token));
    expect([again.statusCode, body(again).error.code]).toEqual([410, 'link_used']);
  }

  /**
   * An admin transaction holding an uncommitted user row for `address`: a request_signup or
   * invite_user for it counts the request, then waits on the unique index at its insert.
   */
  async function holdAddress(address: string): Promise<pg.PoolClient> {
    const holder = await admin.connect();
    holder.on('error', () => undefined);
    await holder.query('begin');
    await holder.query(`insert into rolegate.users (email, password_hash, roles) values ($1, null, '{}')`, [address]);
    return holder;
  }

  it('server stopped: sign-up (a page for the form), an invitation, opening a confirmation link and using it answer 503 in bounded time, nothing changed; each works once it is back', async () => {
    const [newcomer, invitee] = [newAddress('signup'), newAddress('invitee')];
    const link = await freshConfirmation();
    const before = [await addressState(newcomer), await addressState(invitee)];
    cluster.stop();
    let elapsed: number[];
    try {
      elapsed = [
        await expectUnavailable(signup(signupEvent(newcomer))),
        await expectUnavailablePage(signup(signupEvent(newcomer, true))),
        await expectUnavailable(invite(inviteEvent(invitee))),
        await expectUnavailablePage(verify(openLinkEvent(link.token))),
        await expectUnavailable(verify(confirmEvent(link.token))),
      ];
    } finally {
      cluster.start();
    }
    console.log(`fault signup-invite-server-stopped: 503 after ${elapsed.join(' / ')} ms (sign-up / sign-up form / invite / open confirmation / confirm)`);
    expect([await addressState(newcomer), await addressState(invitee)]).toEqual(before);
    expect(before[0]).toMatchObject(NOTHING);
    expect(await confirmationState(link)).toEqual(UNCONFIRMED);
    await expectAccountMade(() => signup(signupEvent(newcomer)), newcomer, 202, 'signup');
    await expectAccountMade(() => invite(inviteEvent(invitee)), invitee, 201, 'invite');
    const opened = await answered(() => verify(openLinkEvent(link.token)));
    expect([opened.statusCode, opened.headers?.Location]).toEqual([303, '/confirm']);
    await expectConfirmsOnce(link);
    await expectConsistentTree();
  });

  for (const flow of ['signup', 'invite'] as const) {
    const fn = flow === 'signup' ? 'request_signup' : 'invite_user';
    it(`${flow === 'signup' ? 'a sign-up' : 'an invitation'} terminated inside ${fn} after it counted the request: 503, no user, token or mail and not counted; the same request then works`, async () => {
      const address = newAddress(flow);
      const send = () => (flow === 'signup' ? signup(signupEvent(address)) : invite(inviteEvent(address)));
      const before = await addressState(address);
      const holder = await holdAddress(address);
      try {
        const pending = send();
        const pid = await blockedBackend(fn);
        await admin.query('select pg_terminate_backend($1)', [pid]);
        const elapsed = await expectUnavailable(pending);
        console.log(`fault ${flow}-terminated-mid-call: 503 after ${elapsed} ms`);
      } finally {
        await holder.query('rollback');
        holder.release();
      }
      expect(await addressState(address)).toEqual(before);
      expect(before).toMatchObject(NOTHING);
      await expectAccountMade(send, address, flow === 'signup' ? 202 : 201, flow);
    });
  }

  it('confirming a sign-up, terminated inside sign_in_with_token after the token was marked used: 503, all rolled back, the link works once', async () => {
    const link = await freshConfirmation();
    const holder = await admin.connect();
    holder.on('error', () => undefined);
    await holder.query('begin');
    // The sign-in marks the token used, then confirms the user row, which this lock holds.
    await holder.query('select 1 from rolegate.users where id = $1 for update', [link.userId]);
    try {
      const pending = verify(confirmEvent(link.token));
      const pid = await blockedBackend('sign_in_with_token');
      await admin.query('select pg_terminate_backend($1)', [pid]);
      const elapsed = await expectUnavailable(pending);
      console.log(`fault confirm-terminated-mid-call: 503 after ${elapsed} ms`);
    } finally {
      await holder.query('rollback');
      holder.release();
    }
    expect(await confirmationState(link)).toEqual(UNCONFIRMED);
    await expectConfirmsOnce(link);
    await expectConsistentTree();
  });

  it('a confirmation whose answer is lost after the commit: 503, and the link is wholly used (address confirmed, one session); a retry says used', async () => {
    const link = await freshConfirmation();
    const cut = proxy.cutAfterReplyTo('sign_in_with_token');
    const elapsed = await expectUnavailable(viaProxy.verify(confirmEvent(link.token)));
    await cut;
    console.log(`fault confirm-answer-lost-after-commit: 503 after ${elapsed} ms`);
    expect(await confirmationState(link)).toEqual(CONFIRMED);
    const retry = await viaProxy.verify(confirmEvent(link.token));
    expect([retry.statusCode, body(retry).error.code]).toEqual([410, 'link_used']);
    await expectConsistentTree();
  });

  // ------------------------------------------------------------ the account function: a new password, a new address

  const NEW_PASSWORD = 'a new passphrase for faults';
  /** A signed-in user: this session (its access token), another live one a new password must end, and an unused recovery link. */
  async function freshAccount(what: string) {
    const address = newAddress(what);
    const id = (await admin.query(`select (rolegate.create_user($1, $2, '{member}')->'user'->>'id') as id`, [address, passwordHash])).rows[0].id as string;
    const { store } = await runtime();
    const [mine, other] = [newRefreshToken(), newRefreshToken()];
    issuedTokens.add(mine);
    issuedTokens.add(other);
    const own = await store.createSession({ userId: id, refreshTokenHash: refreshTokenHash(mine), refreshTtlSeconds: 3600 });
    const elsewhere = await store.createSession({ userId: id, refreshTokenHash: refreshTokenHash(other), refreshTtlSeconds: 3600 });
    if (own.status !== 'created' || elsewhere.status !== 'created') throw new Error('fixture session');
    const recovery = newEmailToken();
    linkTokens.add(recovery);
    await admin.query(`insert into rolegate.email_tokens (token_hash, purpose, user_id, email, expires_at) values ($1, 'recovery', $2, $3, now() + interval '1 hour')`, [sha256Hex(recovery), id, address]);
    const auth = readConfig(env(url)).auth;
    const { token: accessToken } = await signAccessTokenWithJose({
      subject: { id, email: address, roles: ['member'] }, sessionId: own.sessionId,
      secret: auth.jwtSecret, issuer: auth.jwtIssuer, ttlSeconds: 3600, now: Math.floor(Date.now() / 1000),
    });
    return { id, email: address, sessionId: own.sessionId, otherSessionId: elsewhere.sessionId, recovery, accessToken };
  }
  type Account = Awaited<ReturnType<typeof freshAccount>>;

  const accountEvent = (a: Account, fields: Record<string, string>, form: boolean) => form
    ? event({ path: '/auth/account', form: fields, cookies: { nf_jwt: a.accessToken } })
    : event({ path: '/.netlify/functions/account', json: fields, cookies: { nf_jwt: a.accessToken } });
  const passwordEvent = (a: Account, form = false) => accountEvent(a, { action: 'password', current_password: PASSWORD, password: NEW_PASSWORD, password_confirm: NEW_PASSWORD }, form);
  const emailEvent = (a: Account, address: string, current = PASSWORD, form = false) => accountEvent(a, { action: 'email', email: address, current_password: current }, form);

  /** Everything a new password or a new address touches, and what every throttle (login and mail) has counted. */
  async function accountState(a: Account, newEmail = '') {
    const { rows } = await admin.query(`select
      (select password_hash from rolegate.users where id = $1) as password_hash,
      (select token_version from rolegate.users where id = $1) as token_version,
      (select email from rolegate.users where id = $1) as email,
      (select revoked_at is not null from rolegate.sessions where id = $2) as own_ended,
      (select token_version from rolegate.sessions where id = $2) as own_version,
      (select revoked_at is not null from rolegate.sessions where id = $3) as other_ended,
      (select used_at is not null from rolegate.email_tokens where token_hash = $4) as recovery_used,
      (select count(*)::int from rolegate.email_tokens where user_id = $1 and purpose = 'email_change') as change_links,
      (select count(*)::int from rolegate.mail_outbox where recipient = any($5::text[])) as mails,
      (select count(*)::int from rolegate.audit_log where user_id = $1 and event in ('password_changed', 'email_change_requested', 'email_changed')) as audited,
      (select coalesce(sum(failures), 0)::int from rolegate.login_throttle) as counted`,
    [a.id, a.sessionId, a.otherSessionId, sha256Hex(a.recovery), [a.email, newEmail]]);
    const { password_hash: hash, ...row } = rows[0];
    return { ...row, oldPassword: bcrypt.compareSync(PASSWORD, hash), newPassword: bcrypt.compareSync(NEW_PASSWORD, hash) };
  }

  /** The state after one new password, from `before`: set once, the other sessions ended, this one kept (its version following), the recovery link retired. */
  const changedOnce = (before: Awaited<ReturnType<typeof accountState>>) => ({
    ...before, oldPassword: false, newPassword: true, token_version: before.token_version + 1, own_version: before.token_version + 1,
    own_ended: false, other_ended: true, recovery_used: true, audited: before.audited + 1,
  });

  it('server stopped: a new password and a new address (as JSON and as the form: a page) answer 503 in bounded time, nothing changed or counted; both work once it is back', async () => {
    const a = await freshAccount('account-stopped');
    const newEmail = newAddress('account-stopped-new');
    const before = await accountState(a, newEmail);
    cluster.stop();
    let elapsed: number[];
    try {
      elapsed = [
        await expectUnavailable(account(passwordEvent(a))),
        await expectUnavailablePage(account(passwordEvent(a, true))),
        await expectUnavailable(account(emailEvent(a, newEmail))),
        await expectUnavailablePage(account(emailEvent(a, newEmail, PASSWORD, true))),
      ];
    } finally {
      cluster.start();
    }
    console.log(`fault account-server-stopped: 503 after ${elapsed.join(' / ')} ms (password / password form / address / address form)`);
    expect(await accountState(a, newEmail)).toEqual(before);
    const changed = await answered(() => account(passwordEvent(a)));
    expect([changed.statusCode, body(changed)]).toEqual([200, { ok: true, sessions_ended: 1 }]);
    expect(await accountState(a, newEmail)).toEqual(changedOnce(before));
    // The session that changed the password goes on: it asks for the new address (with the new password).
    const asked = await answered(() => account(emailEvent(a, newEmail, NEW_PASSWORD)));
    expect(asked.statusCode, asked.body ?? '').toBe(202);
    expect(await accountState(a, newEmail)).toEqual({ ...changedOnce(before), change_links: 1, mails: before.mails + 2, audited: before.audited + 2, counted: before.counted + 2 });
    await expectConsistentTree();
  });

  it('a new password, terminated inside change_password after it set the password: 503, all rolled back (the old password signs in), and the change then works once', async () => {
    const a = await freshAccount('account-terminated');
    const before = await accountState(a);
    const holder = await admin.connect();
    holder.on('error', () => undefined);
    await holder.query('begin');
    // change_password sets the password and token_version, then ends the other sessions: this lock holds it there.
    await holder.query('select 1 from rolegate.sessions where id = $1 for update', [a.otherSessionId]);
    try {
      const pending = account(passwordEvent(a));
      const pid = await blockedBackend('change_password');
      await admin.query('select pg_terminate_backend($1)', [pid]);
      const elapsed = await expectUnavailable(pending);
      console.log(`fault change-password-terminated-mid-call: 503 after ${elapsed} ms`);
    } finally {
      await holder.query('rollback');
      holder.release();
    }
    expect(await accountState(a)).toEqual(before);
    // The old password still signs in (a third session, which the change must end too).
    const signedIn = await answered(() => login(event({ path: '/.netlify/functions/login', json: { email: a.email, password: PASSWORD } })));
    expect(signedIn.statusCode, signedIn.body ?? '').toBe(200);
    remember(signedIn);
    const changed = await answered(() => account(passwordEvent(a)));
    expect([changed.statusCode, body(changed)]).toEqual([200, { ok: true, sessions_ended: 2 }]);
    expect(await accountState(a)).toEqual(changedOnce(before));
    await expectConsistentTree();
  });

  it('an address change terminated inside request_email_change after it counted the request: 503, no link, no mail and not counted; the same request then works', async () => {
    const a = await freshAccount('account-ask');
    const newEmail = newAddress('account-ask-new');
    const before = await accountState(a, newEmail);
    const holder = await admin.connect();
    holder.on('error', () => undefined);
    await holder.query('begin');
    // The request is counted first, then the user row locked (live_session_user): this lock holds it there.
    await holder.query('select 1 from rolegate.users where id = $1 for update', [a.id]);
    try {
      const pending = account(emailEvent(a, newEmail));
      const pid = await blockedBackend('request_email_change');
      await admin.query('select pg_terminate_backend($1)', [pid]);
      const elapsed = await expectUnavailable(pending);
      console.log(`fault email-change-terminated-mid-call: 503 after ${elapsed} ms`);
    } finally {
      await holder.query('rollback');
      holder.release();
    }
    expect(await accountState(a, newEmail)).toEqual(before);
    const asked = await answered(() => account(emailEvent(a, newEmail)));
    expect(asked.statusCode, asked.body ?? '').toBe(202);
    expect(await accountState(a, newEmail)).toEqual({ ...before, change_links: 1, mails: before.mails + 2, audited: before.audited + 1, counted: before.counted + 2 });
  });

  it('an address change link whose answer is lost after the commit: 503, the account moved once (one new session); a retry says used, and the new address signs in', async () => {
    const a = await freshAccount('account-link');
    const newEmail = newAddress('account-link-new');
    const token = newEmailToken();
    linkTokens.add(token);
    await admin.query(`insert into rolegate.email_tokens (token_hash, purpose, user_id, email, expires_at) values ($1, 'email_change', $2, $3, now() + interval '1 hour')`, [sha256Hex(token), a.id, newEmail]);
    const moved = async () => (await admin.query(`select
      (select used_at is not null from rolegate.email_tokens where token_hash = $1) as used,
      (select count(*)::int from rolegate.users where lower(email) = $2) as at_new,
      (select count(*)::int from rolegate.users where lower(email) = $3) as at_old,
      (select id from rolegate.users where lower(email) = $2) as user_id,
      (select count(*)::int from rolegate.sessions where user_id = $4 and revoked_at is null) as sessions,
      (select count(*)::int from rolegate.audit_log where user_id = $4 and event = 'email_changed') as changes`, [sha256Hex(token), newEmail, a.email, a.id])).rows[0];
    const cut = proxy.cutAfterReplyTo('change_email_with_token');
    const elapsed = await expectUnavailable(viaProxy.verify(confirmEvent(token)));
    await cut;
    console.log(`fault email-change-answer-lost-after-commit: 503 after ${elapsed} ms`);
    // Committed whole: the link used, the account at the new address, one session more than its two.
    const MOVED = { used: true, at_new: 1, at_old: 0, user_id: a.id, sessions: 3, changes: 1 };
    expect(await moved()).toEqual(MOVED);
    const retry = await viaProxy.verify(confirmEvent(token));
    expect([retry.statusCode, body(retry).error.code]).toEqual([410, 'link_used']);
    expect(await moved()).toEqual(MOVED);
    const signedIn = await login(event({ path: '/.netlify/functions/login', json: { email: newEmail, password: PASSWORD } }));
    expect(signedIn.statusCode, signedIn.body ?? '').toBe(200);
    remember(signedIn);
    await expectConsistentTree();
  });

  it('logged no secret, and stored no raw refresh token, through all of the faults', async () => {
    expect(issuedTokens.size).toBeGreaterThan(10);
    const secrets = new Map<string, string>([['JWT_SECRET', SECRET], ['password', PASSWORD], ['password hash', passwordHash], ['database URL', url]]);
    for (const token of issuedTokens) secrets.set(`refresh token ${token.slice(0, 6)}…`, token);
    for (const token of linkTokens) secrets.set(`recovery link token ${token.slice(0, 6)}…`, token);
    expect(leakedSecrets(logs.text(), secrets)).toEqual([]);
    expect(await rawTokensAtRest(admin, issuedTokens)).toEqual([]);
    expect(await rawTokensAtRest(admin, linkTokens)).toEqual([]);
  });
});
