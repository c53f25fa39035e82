/**
 * Property-based fuzzing of every function handler with fast-check: bodies,
 * headers and cookies an attacker can send, thrown at login, refresh (POST
 * and the gate's GET bounce), logout and whoami over one real PostgreSQL
 * database. For every case:
 *
 * - never a 5xx, never a stack trace or an internal path in the body;
 * - either a legitimate answer (200 of the documented shape, a 303 to a
 *   same-site path) or a JSON error whose code is in the error table and
 *   whose status is the table's;
 * - every access token set is one we signed; an error sets no live cookie;
 * - the tables are unchanged except the audit log and throttle counters,
 *   or changed exactly as that success means (one session and one token for
 *   a login, one successor for a refresh, revocations for a logout);
 * - no raw refresh token is stored anywhere, and nothing secret is logged.
 *
 * The account flows get the same treatment: recover, verify (links of every purpose in
 * every state), sign-up under each registration policy, and invite with no session, a
 * member's and an admin's. Their writes are checked against the account the address had
 * before the request, and login_throttle apart: a request refused before the store is
 * asked counts nowhere, one the store took counts once for its address and its sender.
 * The account function (a new password, a new address) is sent with no session, a live
 * one, and one ended, gone stale, disabled or naming another user's session; a wrong
 * current password counts as a failed login does, and nothing else of a refusal is written.
 *
 * The seed is fixed (FUZZ_SEED overrides it) and fast-check prints it with
 * the shrunk counterexample on failure; FUZZ_RUNS changes the case count.
 */
import { createHash, createHmac } from 'node:crypto';
import type { Handler, HandlerEvent, HandlerResponse } from '@netlify/functions';
import bcrypt from 'bcryptjs';
import fc from 'fast-check';
import { SignJWT, decodeJwt } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { accountHandler, inviteHandler, magicLinkHandler, recoverHandler, signupHandler, verifyHandler } from '../../src/auth/account-handlers.js';
import { loginHandler, logoutHandler, refreshHandler } from '../../src/auth/handlers.js';
import type { AuthDeps } from '../../src/auth/deps.js';
import { requestedAddress } from '../../src/auth/mailed-link.js';
import { requireRole } from '../../src/auth/require-role.js';
import { signAccessTokenWithJose, verifyAccessToken } from '../../src/core/access-token.js';
import { emailTokenHash, newEmailToken } from '../../src/core/email-token.js';
import { isSafeNextPath } from '../../src/core/next-path.js';
import { bcryptHasher, type PasswordHasher } from '../../src/core/password.js';
import { Secret } from '../../src/core/secret.js';
import { newRefreshToken, refreshTokenHash } from '../../src/core/refresh-token.js';
import { clientIp, parseBody } from '../../src/http/request.js';
import { STATUS } from '../../src/http/respond.js';
import { openMailSecret } from '../../src/mail/seal.js';
import { DEFAULT_ACCOUNT_SETTINGS, type AccountSettings } from '../../src/site-config/account-settings.js';
import type { Store, User } from '../../src/store/store.js';
import { PASSWORD, SECRET, makeDeps } from '../auth/support.js';
import { openTestStore, type TestStore } from '../support/databases.js';
import { captureLogs, leakedSecrets } from '../support/log-capture.js';
import {
  EMAIL_TOKEN_PLACEHOLDER, SITE, accountChangeBodyArb, mangle, cookiesArb, inviteBodyArb, requestArb, signupBodyArb, verifyBodyArb, verifyCookiesArb, verifyQueryArb,
  type AccountAddresses, type AccountChangeFixture, type CookieValueRecipe, type EmailTokenKind, type Known, type LinkPurpose, type LinkState, type Mangle, type RequestRecipe,
} from './arbitraries.js';
import { ACCOUNT_MAIL_TABLES, LOG_TABLES, diff, rawTokensAtRest, rolegateTables, rowCount, snapshot, tokensIn, type Snapshot, type TableDiff } from './tables.js';

const logs = captureLogs();

const SEED = Number(process.env.FUZZ_SEED ?? 20261123);
const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
// The GitHub identities linked to the account function's holder and to the member.
const HOLDER_IDENTITY = '6d9a3c1e-0b7f-4c2a-9e58-1f4d2b7a0c31';
const MEMBER_IDENTITY = 'a41f07d2-5c3e-4b98-8d16-7e2c9b0f5a64';
const HOLDER_IDENTITY_AT = '2026-11-01T00:00:00Z';
const WRONG_SECRET = 'another-secret-that-rolegate-never-signs-with-000';
const REFRESH_NAMES = ['__Host-rolegate_refresh', '__Secure-rolegate_refresh'];
const STACK_TRACE = /\n\s+at\s|\bat\s+\S+\s+\(|\.[cm]?[jt]s:\d+|node_modules|\/work\/|file:\/\/|Error:\s/;

type BaseKind = 'login' | 'refresh-post' | 'refresh-get' | 'logout' | 'whoami';
/** `sso-…`: the same handler under COOKIE_DOMAIN, TOKEN_FINGERPRINT=on and ROLES_FROM_IDENTITY=on. */
type Kind = BaseKind | `sso-${Exclude<BaseKind, 'whoami'>}`;
const baseKind = (kind: Kind) => kind.replace(/^sso-/, '') as BaseKind;

/** The registration policies sign-up is fuzzed under (rolegate.config.json `accounts`), open most often. */
type SignupPolicy = 'open' | 'open-domains' | 'open-no-confirmation' | 'invite' | 'closed';
const SIGNUP_POLICIES: Record<SignupPolicy, Partial<AccountSettings>> = {
  open: { registration: 'open', newUserRoles: ['member'] },
  'open-domains': { registration: 'open', newUserRoles: ['member'], allowedDomains: ['fuzz.example'] },
  'open-no-confirmation': { registration: 'open', newUserRoles: ['member'], requireConfirmation: false },
  invite: { registration: 'invite', newUserRoles: ['member'] },
  closed: {},
};
const signupPolicyArb = fc.constantFrom<SignupPolicy>('open', 'open', 'open', 'open', 'open-domains', 'open-domains', 'open-no-confirmation', 'invite', 'closed');

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

/** Every refresh token that existed during the run: the log and the tables must hold none of them. */
const issuedTokens = new Set<string>();
const counts: Record<Kind, { cases: number; outcomes: Record<string, number> }> = {
  login: { cases: 0, outcomes: {} }, 'refresh-post': { cases: 0, outcomes: {} }, 'refresh-get': { cases: 0, outcomes: {} },
  logout: { cases: 0, outcomes: {} }, whoami: { cases: 0, outcomes: {} },
  'sso-login': { cases: 0, outcomes: {} }, 'sso-refresh-post': { cases: 0, outcomes: {} }, 'sso-refresh-get': { cases: 0, outcomes: {} }, 'sso-logout': { cases: 0, outcomes: {} },
};

describe('fuzzing every function handler', () => {
  let t: TestStore;
  let store: Store;
  let sql: pg.Pool;
  let deps: AuthDeps;
  let ssoDeps: AuthDeps;
  let watched: string[];
  let users: { member: User; admin: User; disabled: User; passwordless: User };
  let passwordHash: string;
  let known: Known;
  const handlers = {} as Record<Kind, (event: HandlerEvent) => Promise<HandlerResponse>>;
  /** Recover and verify, and the users their links are for: one live link each, one used or expired, one disabled since. */
  const accountHandlers = {} as Record<'recover' | 'magic-link' | 'verify', (event: HandlerEvent) => Promise<HandlerResponse>>;
  /**
   * `confirm` has a sign-up link waiting (a password, the address unconfirmed), `invitee` an
   * invitation (no password, unconfirmed): verify's sign-up and invitation links are theirs,
   * and both go back to that state after every case. `pending` signed up and never confirmed
   * (a new sign-up for it keeps no password and mails a link to choose one).
   */
  let accountUsers: { reset: User; old: User; gone: User; confirm: User; invitee: User; pending: User; holder: User };
  /**
   * The account function, and its fixture: `holder` (accountUsers) signs in and changes the
   * password or the address; every case leaves it as `holderRow` says (the address, the
   * password, token_version, confirmed), and the address change links verify takes are its too.
   */
  let accountChange: (event: HandlerEvent) => Promise<HandlerResponse>;
  let accountFixture: AccountChangeFixture;
  let holderRow: { email: string; password_hash: string; token_version: number; email_confirmed_at: string };
  /** Sign-up under each registration policy, and invite; the fixture users every case leaves as it found them. */
  const signupHandlers = {} as Record<SignupPolicy, (event: HandlerEvent) => Promise<HandlerResponse>>;
  let invite: (event: HandlerEvent) => Promise<HandlerResponse>;
  let inviteAccounts: AccountSettings;
  let fixtureUserIds: string[];
  let addresses: AccountAddresses;
  /** bcrypt hashes made by the account flows (cost 4, as the logins): a dead link must cost none. */
  let hashes = 0;

  beforeAll(async () => {
    t = await openTestStore({ maxConnections: 4 });
    ({ store, sql } = t);
    // bcrypt at cost 4 keeps thousands of password checks cheap; the work
    // factor is a number, not a different code path.
    passwordHash = bcrypt.hashSync(PASSWORD, 4);
    const make = async (email: string, roles: string[], hash: string | null) => {
      const r = await store.createUser({ email, passwordHash: hash, roles });
      if (r.status !== 'created') throw new Error('fixture');
      return r.user;
    };
    users = {
      member: await make('member@fuzz.example', ['member'], passwordHash),
      admin: await make('admin@fuzz.example', ['admin'], passwordHash),
      disabled: await make('disabled@fuzz.example', ['admin'], passwordHash),
      passwordless: await make('nopass@fuzz.example', ['admin'], null),
    };
    await store.setUserDisabled(users.disabled.id, true);
    // The member is an admin in Netlify Identity: under ROLES_FROM_IDENTITY the
    // mirror's role is added at login and refresh.
    await store.upsertIdentityUsers([{
      id: '00000000-0000-4000-8000-000000000001', email: users.member.email, roles: ['admin'], appMetadata: { roles: ['admin'] }, userMetadata: {},
      createdAt: null, updatedAt: new Date().toISOString(), confirmedAt: null, lastLoginAt: null, instanceId: null, observedAt: new Date().toISOString(),
    }]);
    known = { email: users.member.email, password: PASSWORD, lockedEmails: [users.disabled.email, users.passwordless.email, users.admin.email] };
    const base = makeDeps(store, { LOGIN_MAX_FAILURES_PER_ACCOUNT: '5', LOGIN_MAX_FAILURES_PER_IP: '10', LOGIN_THROTTLE_WINDOW_SECONDS: '2' });
    deps = { ...base, config: { ...base.config, bcryptCost: 4 } };
    handlers.login = loginHandler(async () => deps);
    handlers['refresh-post'] = handlers['refresh-get'] = refreshHandler(async () => deps);
    handlers.logout = logoutHandler(async () => deps);
    // The other cookie policy: subdomain SSO (__Secure- names, path-limited
    // refresh cookie) with token fingerprints on, and roles also read from the Identity mirror.
    // (Throttling is left to the first policy: here it would only starve the success paths.)
    const sso = makeDeps(store, { COOKIE_DOMAIN: 'site.example', TOKEN_FINGERPRINT: 'on', ROLES_FROM_IDENTITY: 'on', LOGIN_MAX_FAILURES_PER_ACCOUNT: '1000', LOGIN_MAX_FAILURES_PER_IP: '100000' });
    ssoDeps = { ...sso, config: { ...sso.config, bcryptCost: 4 } };
    handlers['sso-login'] = loginHandler(async () => ssoDeps);
    handlers['sso-refresh-post'] = handlers['sso-refresh-get'] = refreshHandler(async () => ssoDeps);
    handlers['sso-logout'] = logoutHandler(async () => ssoDeps);
    // whoami as deployed: netlify/functions/whoami.ts reading its configuration from the environment.
    vi.resetModules();
    vi.stubEnv('JWT_SECRET', SECRET);
    vi.stubEnv('SITE_URL', SITE);
    const whoamiModule = '../../netlify/functions/whoami.ts';
    const whoami = ((await import(whoamiModule)) as { handler: Handler }).handler;
    handlers.whoami = async (event) => (await whoami(event, {} as never)) as HandlerResponse;
    await handlers.whoami(toEvent('GET', '/.netlify/functions/whoami', emptyRecipe(), ''));
    vi.unstubAllEnvs();
    // Recover and verify on the first policy's deps, counting bcrypt work; the mail limits
    // are low with a short window, so throttling is reached and then lifts again.
    const countingHasher: PasswordHasher = {
      hash: (password, cost) => { hashes += 1; return bcryptHasher.hash(password, cost); },
      compare: (password, hash) => bcryptHasher.compare(password, hash),
    };
    accountUsers = {
      reset: await make('reset@fuzz.example', ['member'], passwordHash),
      old: await make('reset-old@fuzz.example', ['member'], passwordHash),
      gone: await make('reset-gone@fuzz.example', ['member'], passwordHash),
    } as typeof accountUsers;
    await store.setUserDisabled(accountUsers.gone.id, true);
    const accountDeps: AuthDeps = {
      ...deps, passwords: countingHasher, kickMail: async () => undefined,
      mail: { from: 'no-reply@site.example', maxPerAddress: 5, maxPerIp: 100_000, throttleWindowSeconds: 2 },
    };
    accountHandlers.recover = recoverHandler(async () => accountDeps);
    accountHandlers.verify = verifyHandler(async () => accountDeps);
    // Sign-in links on for their own function (verify keeps the default, links off).
    accountHandlers['magic-link'] = magicLinkHandler(async () => ({ ...accountDeps, accounts: { ...DEFAULT_ACCOUNT_SETTINGS, signInLinks: true } }));
    // Sign-up and invite on the same deps, one instance per registration policy.
    for (const [policy, settings] of Object.entries(SIGNUP_POLICIES) as Array<[SignupPolicy, Partial<AccountSettings>]>) {
      const policyDeps: AuthDeps = { ...accountDeps, accounts: { ...DEFAULT_ACCOUNT_SETTINGS, ...settings } };
      signupHandlers[policy] = signupHandler(async () => policyDeps);
    }
    inviteAccounts = { ...DEFAULT_ACCOUNT_SETTINGS, registration: 'invite', newUserRoles: ['member'] };
    const inviteDeps: AuthDeps = { ...accountDeps, accounts: inviteAccounts };
    invite = inviteHandler(async () => inviteDeps);
    accountUsers.confirm = await make('confirm@fuzz.example', ['member'], passwordHash);
    accountUsers.invitee = await make('invitee@fuzz.example', ['editor'], null);
    accountUsers.pending = await make('pending@fuzz.example', ['member'], passwordHash);
    accountUsers.holder = await make('account@fuzz.example', ['member'], passwordHash);
    holderRow = (await sql.query('select email, password_hash, token_version, email_confirmed_at from rolegate.users where id = $1', [accountUsers.holder.id])).rows[0];
    accountChange = accountHandler(async () => accountDeps);
    accountFixture = {
      ownEmail: accountUsers.holder.email, password: PASSWORD, domain: 'fuzz.example',
      taken: [users.member.email, users.admin.email, users.disabled.email, accountUsers.invitee.email],
      identityId: HOLDER_IDENTITY, otherIdentityId: MEMBER_IDENTITY,
    };
    await sql.query(`insert into rolegate.identities (id, user_id, provider, subject, email) values ($1, $2, 'github', 'fuzz-member', $3)`,
      [MEMBER_IDENTITY, users.member.id, users.member.email]);
    fixtureUserIds = [...Object.values(users), ...Object.values(accountUsers)].map((u) => u.id);
    await resetAccountFixtures();
    addresses = {
      domain: 'fuzz.example', otherDomain: 'elsewhere.example',
      known: [users.member.email, users.admin.email, users.disabled.email, users.passwordless.email, accountUsers.confirm.email, accountUsers.invitee.email, accountUsers.pending.email, accountUsers.gone.email],
    };
    watched = (await rolegateTables(sql)).filter((t) => !LOG_TABLES.includes(t));
    expect(watched).toEqual(expect.arrayContaining(ACCOUNT_MAIL_TABLES));
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await t?.close();
  });

  function emptyRecipe(): RequestRecipe {
    return { method: 'GET', pathSuffix: '', query: '', origin: SITE, headers: [], cookies: [], cookieTail: '', duplicateCookieHeader: false, body: { body: null, isBase64Encoded: false } };
  }

  // ------------------------------------------------------------ materialising a recipe

  interface Live { user: User; sessionId: string; refreshToken: string; accessToken: string }

  async function liveSession(user: User): Promise<Live> {
    const refreshToken = newRefreshToken();
    issuedTokens.add(refreshToken);
    const created = await store.createSession({ userId: user.id, refreshTokenHash: refreshTokenHash(refreshToken), refreshTtlSeconds: 3600 });
    if (created.status !== 'created') throw new Error('fixture session');
    const { token } = await signAccessTokenWithJose({
      subject: { id: user.id, email: user.email, roles: user.roles }, sessionId: created.sessionId,
      secret: deps.config.jwtSecret, issuer: deps.config.jwtIssuer, ttlSeconds: 900, now: deps.now(),
    });
    return { user, sessionId: created.sessionId, refreshToken, accessToken: token };
  }

  /** Subjects of the tokens signed with the right secret in this case: the only identities whoami may answer with. */
  async function cookieValue(recipe: CookieValueRecipe, live: () => Promise<Live>, rightSigned: Set<unknown>): Promise<string> {
    const now = deps.now();
    switch (recipe.kind) {
      case 'raw': return recipe.value;
      case 'jwt-shaped': return recipe.parts.join('.');
      case 'signed': {
        const claims = Object.fromEntries(Object.entries(recipe.claims).map(([k, v]) => [k,
          v === 'NOW' ? now : v === 'NOW+900' ? now + 900 : v === 'NOW-900' ? now - 900 : v]));
        const key = new TextEncoder().encode(recipe.secret === 'right' ? SECRET : WRONG_SECRET);
        try {
          const token = await new SignJWT(claims).setProtectedHeader(recipe.header as { alg: string }).sign(key);
          if (recipe.secret === 'right') rightSigned.add(claims.sub);
          return token;
        } catch {
          return 'unsignable';
        }
      }
      case 'crafted': {
        const substitute = (value: unknown): unknown => value === 'NOW' ? now : value === 'NOW+900' ? now + 900 : value === 'NOW-900' ? now - 900
          : Array.isArray(value) ? value.map(substitute)
            : value && typeof value === 'object' ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v)])) : value;
        const part = (value: unknown) => Buffer.from(JSON.stringify(substitute(value)) ?? 'null').toString('base64url');
        const input = `${part(recipe.header)}.${part(recipe.payload)}`;
        const hmac = (secret: string) => createHmac('sha256', secret).update(input).digest('base64url');
        const signature = recipe.signature === 'right' ? hmac(SECRET) : recipe.signature === 'wrong' ? hmac(WRONG_SECRET) : recipe.signature === 'junk' ? 'AAAA' : '';
        // Only a token with the header we sign with and our HMAC may ever be honoured.
        const header = recipe.header as { alg?: unknown; typ?: unknown } | null;
        if (recipe.signature === 'right' && header && !Array.isArray(header) && header.alg === 'HS256') {
          rightSigned.add((recipe.payload as { sub?: unknown } | null)?.sub);
        }
        return `${input}.${signature}`;
      }
      case 'live-access': {
        const l = await live();
        rightSigned.add(l.user.id);
        return mangle(l.accessToken, recipe.mangle);
      }
      case 'live-refresh': return mangle((await live()).refreshToken, recipe.mangle);
      case 'rotated-refresh': {
        const l = await liveSession(users.admin);
        // Someone else rotated it to a successor this request cannot derive.
        await store.rotateRefreshToken({ tokenHash: refreshTokenHash(l.refreshToken), successorHash: sha256(`${Math.random()}`), refreshTtlSeconds: 3600, graceSeconds: 10 });
        return l.refreshToken;
      }
      case 'revoked-refresh': {
        const l = await liveSession(users.member);
        await store.revokeSession({ sessionId: l.sessionId, reason: 'fixture' });
        return l.refreshToken;
      }
    }
  }

  function toEvent(method: string, path: string, recipe: RequestRecipe, cookieHeader: string): HandlerEvent {
    const headers: Record<string, string> = { 'x-nf-client-connection-ip': '203.0.113.10' };
    if (recipe.origin !== undefined) headers.origin = recipe.origin;
    if (recipe.body.contentType !== undefined) headers['content-type'] = recipe.body.contentType;
    if (cookieHeader) headers.cookie = cookieHeader;
    if (recipe.duplicateCookieHeader) headers.Cookie = cookieHeader.split('; ').reverse().join('; ');
    for (const [name, value] of recipe.headers) headers[name] = value;
    const rawUrl = `${SITE}${path}${recipe.query ? `?${recipe.query}` : ''}`;
    return {
      rawUrl,
      rawQuery: recipe.query,
      path,
      httpMethod: method,
      headers,
      multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
      queryStringParameters: Object.fromEntries(new URLSearchParams(recipe.query)),
      multiValueQueryStringParameters: null,
      body: recipe.body.body,
      isBase64Encoded: recipe.body.isBase64Encoded,
    };
  }

  // ------------------------------------------------------------ the oracle

  function setCookies(response: HandlerResponse): Array<{ name: string; value: string; raw: string }> {
    const list = (response.multiValueHeaders?.['Set-Cookie'] ?? []) as string[];
    return list.map((raw) => {
      const pair = raw.split(';')[0]!;
      const i = pair.indexOf('=');
      return { name: pair.slice(0, i), value: decodeURIComponent(pair.slice(i + 1)), raw };
    });
  }

  /** Checks every answer must pass, whatever the handler; returns the live (non-deleting) cookies set. */
  async function checkAnswer(kind: Kind, response: HandlerResponse): Promise<{ body: any; live: Map<string, string> }> {
    expect(response.statusCode, 'status').toBeLessThan(500);
    expect(response.headers?.['Cache-Control']).toBe('no-store');
    const text = response.body ?? '';
    expect(text).not.toMatch(STACK_TRACE);
    const live = new Map<string, string>();
    for (const c of setCookies(response)) {
      if (/Max-Age=0|Expires=Thu, 01 Jan 1970/.test(c.raw)) {
        expect(c.value, `deleted ${c.name}`).toBe('');
        continue;
      }
      live.set(c.name, c.value);
    }
    if (live.has('nf_jwt')) {
      // Never a value Netlify's edge would answer 400 for, and always our own signature.
      await verifyAccessToken(live.get('nf_jwt')!, { secrets: [deps.config.jwtSecret], issuer: deps.config.jwtIssuer, now: deps.now() });
    }
    let body: any = null;
    if (response.statusCode === 303) {
      const location = String(response.headers?.Location ?? '');
      expect(isSafeNextPath(location), `Location ${location}`).toBe(true);
      // A value Node (and so netlify dev) can write as a header: visible ASCII only.
      expect(location, `Location ${JSON.stringify(location)}`).toMatch(/^[\u0021-\u007e]+$/u);
      expect(text).toBe('');
    } else {
      expect(String(response.headers?.['Content-Type'])).toMatch(/^application\/json/);
      body = JSON.parse(text);
      if (response.statusCode === 200) {
        expect(body.error).toBeUndefined();
      } else {
        expect(Object.keys(body)).toEqual(['error']);
        expect(Object.keys(STATUS)).toContain(body.error.code);
        expect(response.statusCode).toBe(STATUS[body.error.code as keyof typeof STATUS]);
        expect(typeof body.error.message).toBe('string');
        expect(live.size, `an error (${kind}) sets no live cookie`).toBe(0);
      }
    }
    return { body, live };
  }

  function outcome(response: HandlerResponse, body: any): string {
    if (response.statusCode !== 303) return `${response.statusCode}${body?.error ? ` ${body.error.code}` : ''}`;
    const target = String(response.headers?.Location).split('?')[0];
    return `303 ${target === '/login' || target === '/403' ? target : 'next'}`;
  }

  function refreshTokenOf(live: Map<string, string>): string | undefined {
    for (const name of REFRESH_NAMES) if (live.get(name)) return live.get(name);
    return undefined;
  }

  /** The database changed only as the answer says it should have. */
  function checkTables(kind: BaseKind, before: Snapshot, after: Snapshot, response: HandlerResponse, body: any, live: Map<string, string>, scope: unknown) {
    const changes = diff(before, after);
    const signedIn = live.has('nf_jwt');
    if (kind === 'login' && signedIn) {
      const issued = refreshTokenOf(live)!;
      expect(Object.keys(changes).sort()).toEqual(['refresh_tokens', 'sessions']);
      expect(changes.sessions!.added).toHaveLength(1);
      expect(changes.sessions!.changed.length + changes.sessions!.removed.length).toBe(0);
      const session = changes.sessions!.added[0]!;
      expect([users.member.id, users.admin.id]).toContain(session.user_id);
      expect(changes.refresh_tokens!.added).toMatchObject([{ token_hash: sha256(issued), session_id: session.id, parent_id: null }]);
      expect(changes.refresh_tokens!.changed.length + changes.refresh_tokens!.removed.length).toBe(0);
      if (body) expect(body.user.id).toBe(session.user_id);
      return;
    }
    if ((kind === 'refresh-post' || kind === 'refresh-get') && signedIn) {
      const issued = refreshTokenOf(live)!;
      const tokens = changes.refresh_tokens!;
      expect(Object.keys(changes).filter((t) => t !== 'sessions' && t !== 'refresh_tokens')).toEqual([]);
      expect(tokens.added).toHaveLength(1);
      expect(tokens.removed).toHaveLength(0);
      expect(tokens.changed).toHaveLength(1);
      // used_at, and the hash of the client it was rotated for (the grace interval's same-client rule).
      expect(tokens.changed[0]!.columns.sort()).toEqual(['rotated_for', 'used_at']);
      expect(tokens.added[0]).toMatchObject({ token_hash: sha256(issued), parent_id: tokens.changed[0]!.before.id, session_id: tokens.changed[0]!.before.session_id });
      for (const c of changes.sessions?.changed ?? []) expect(c.columns).toEqual(['last_seen_at']);
      expect((changes.sessions?.added.length ?? 0) + (changes.sessions?.removed.length ?? 0)).toBe(0);
      return;
    }
    if (kind === 'logout' && (response.statusCode === 200 || response.statusCode === 303)) {
      // Revocations only; "everywhere" may first prove the refresh token by
      // rotating it, and the successor it made is revoked with the rest.
      const global = scope === 'global';
      for (const [table, d] of Object.entries(changes)) {
        expect(d.removed.length, table).toBe(0);
        if (table === 'refresh_tokens' && global) {
          expect(d.added.length).toBeLessThanOrEqual(1);
          for (const row of d.added) expect(row.revoked_at).not.toBeNull();
        } else {
          expect(d.added.length, table).toBe(0);
        }
        const allowed = table === 'sessions' ? ['revoked_at', 'revoked_reason', ...(global ? ['last_seen_at'] : [])]
          : table === 'refresh_tokens' ? ['revoked_at', ...(global ? ['used_at', 'rotated_for'] : [])]
            : table === 'users' && global ? ['token_version', 'updated_at'] : [];
        for (const c of d.changed) for (const column of c.columns) expect(allowed, `${table}.${column}`).toContain(column);
      }
      return;
    }
    expect(changes, `${kind} answered ${response.statusCode} and must change nothing`).toEqual({});
  }

  // ------------------------------------------------------------ one fuzz case

  async function runCase(kind: Kind, recipe: RequestRecipe): Promise<void> {
    counts[kind].cases += 1;
    let liveOne: Promise<Live> | undefined;
    const live = () => (liveOne ??= liveSession(counts[kind].cases % 2 ? users.member : users.admin));
    const rightSigned = new Set<unknown>();
    const pairs: string[] = [];
    for (const cookie of recipe.cookies) pairs.push(`${cookie.name}=${await cookieValue(cookie.value, live, rightSigned)}`);
    const cookieHeader = pairs.join('; ') + recipe.cookieTail;
    const authorization = recipe.authorization && `${recipe.authorization.scheme}${await cookieValue(recipe.authorization.value, live, rightSigned)}`;
    const base = baseKind(kind);
    const fn = base === 'login' ? 'login' : base === 'logout' ? 'logout' : base === 'whoami' ? 'whoami' : 'refresh';
    const method = base === 'refresh-get' && recipe.method === 'POST' ? 'GET' : recipe.method;
    const path = `/.netlify/functions/${fn}${base === 'refresh-get' || base === 'whoami' ? recipe.pathSuffix : ''}`;
    const event = toEvent(method, path, recipe, cookieHeader);
    if (authorization !== undefined) event.headers.authorization = authorization;

    const before = kind === 'whoami' ? undefined : await snapshot(sql, watched);
    const response = await handlers[kind](event);
    const { body, live: liveCookies } = await checkAnswer(kind, response);
    const key = outcome(response, body);
    counts[kind].outcomes[key] = (counts[kind].outcomes[key] ?? 0) + 1;
    const issued = refreshTokenOf(liveCookies);
    if (issued) issuedTokens.add(issued);
    if (liveCookies.has('nf_jwt')) {
      const claims = decodeJwt(liveCookies.get('nf_jwt')!) as { sub: string; app_metadata: { authorization: { roles: string[] } } };
      // The member holds admin only through the Identity mirror, which only the second policy reads.
      if (claims.sub === users.member.id) expect(claims.app_metadata.authorization.roles.includes('admin')).toBe(kind.startsWith('sso-'));
      // With fingerprints on, every session answer sets the fingerprint cookie.
      expect(liveCookies.has('__Secure-rolegate_fp')).toBe(kind.startsWith('sso-'));
    }

    if (kind === 'whoami') {
      if (response.statusCode === 200) {
        expect(rightSigned, 'whoami answered for a token we never signed').toContain(body.id);
        expect(body).toEqual({ id: expect.any(String), email: expect.any(String), roles: expect.any(Array) });
      } else {
        expect(['unauthenticated', 'session_expired']).toContain(body.error.code);
      }
      return;
    }
    const after = await snapshot(sql, watched);
    // The scope the request asked for, read as the handler reads it (a JSON
    // answer also states it); only "global" may touch the users table.
    let scope: unknown;
    try {
      scope = response.statusCode === 200 ? body?.scope : parseBody(event, { allowEmpty: true }).fields.scope;
    } catch { scope = undefined; }
    checkTables(base, before!, after, response, body, liveCookies, scope);
    const stored = JSON.stringify([...after.values()].map((rows) => [...rows.values()]));
    expect(tokensIn(stored, issuedTokens), 'raw refresh tokens at rest').toEqual([]);
    // Keep each case's picture small: sessions (and their tokens) go once checked.
    if ((after.get('sessions')?.size ?? 0) > 0) await sql.query('delete from rolegate.sessions');
  }

  function fuzz(kind: Kind, methods: string[], runs = RUNS) {
    it(`${kind}: ${runs} hostile requests, never a 5xx, a stack trace, an unknown code or an unexplained write`, async () => {
      const start = counts[kind].cases;
      await fc.assert(fc.asyncProperty(requestArb(known, { methods }), (recipe) => runCase(kind, recipe)), { seed: SEED, numRuns: runs });
      const ran = counts[kind].cases - start;
      console.log(`fuzz ${kind}: ${ran} cases (seed ${SEED}); outcomes ${JSON.stringify(counts[kind].outcomes)}`);
      expect(ran).toBeGreaterThanOrEqual(runs);
      // The generators must reach the interesting paths, or the property proves little
      // (checked at full size; FUZZ_RUNS may shrink a local run).
      if (runs < 500) return;
      const outcomes = Object.keys(counts[kind].outcomes);
      expect(outcomes.length).toBeGreaterThan(kind === 'whoami' ? 1 : 2);
      expect(outcomes).toContain(baseKind(kind) === 'refresh-get' ? '303 next' : '200');
    }, 240_000);
  }

  fuzz('login', ['POST']);
  fuzz('refresh-post', ['POST']);
  fuzz('refresh-get', ['GET']);
  fuzz('logout', ['POST']);
  fuzz('whoami', ['GET', 'POST']);
  // The same handlers under the other cookie policy, a quarter as many cases each.
  const ssoRuns = Math.max(1, Math.ceil(RUNS / 4));
  fuzz('sso-login', ['POST'], ssoRuns);
  fuzz('sso-refresh-post', ['POST'], ssoRuns);
  fuzz('sso-refresh-get', ['GET'], ssoRuns);
  fuzz('sso-logout', ['POST'], ssoRuns);

  // ------------------------------------------------------------ the account flows: recover and verify

  type AccountKind = 'recover' | 'magic-link' | 'verify' | 'signup' | 'invite' | 'account';
  const accountCounts: Record<AccountKind, { cases: number; outcomes: Record<string, number> }> = {
    recover: { cases: 0, outcomes: {} }, 'magic-link': { cases: 0, outcomes: {} }, verify: { cases: 0, outcomes: {} }, signup: { cases: 0, outcomes: {} }, invite: { cases: 0, outcomes: {} },
    account: { cases: 0, outcomes: {} },
  };
  const countOutcome = (kind: AccountKind, key: string) => { accountCounts[kind].outcomes[key] = (accountCounts[kind].outcomes[key] ?? 0) + 1; };
  /** Every email token that existed during the run, and every look-alike sent: none may be logged or stored raw. */
  const emailTokens = new Set<string>();
  /** The codes each endpoint may answer with: anything else is a new code nobody maps, or a bug. */
  const ACCOUNT_CODES: Record<AccountKind, string[]> = {
    recover: ['method_not_allowed', 'bad_origin', 'bad_request', 'unsupported_media_type', 'payload_too_large', 'throttled'],
    'magic-link': ['method_not_allowed', 'bad_origin', 'bad_request', 'unsupported_media_type', 'payload_too_large', 'throttled'],
    verify: ['method_not_allowed', 'bad_origin', 'bad_request', 'unsupported_media_type', 'payload_too_large', 'weak_password', 'link_invalid', 'link_used', 'link_expired'],
    signup: ['method_not_allowed', 'bad_origin', 'bad_request', 'unsupported_media_type', 'payload_too_large', 'weak_password', 'throttled', 'signup_disabled', 'email_not_allowed'],
    invite: ['method_not_allowed', 'bad_origin', 'bad_request', 'unsupported_media_type', 'payload_too_large', 'throttled', 'unauthenticated', 'session_expired', 'forbidden', 'user_exists'],
    account: ['method_not_allowed', 'bad_origin', 'bad_request', 'unsupported_media_type', 'payload_too_large', 'weak_password', 'throttled', 'unauthenticated', 'session_expired', 'wrong_password', 'not_found'],
  };

  /** The sign-up and invitation fixtures as they wait for their links: unconfirmed, `confirm` and `pending` with the fixture password, `invitee` with none. */
  async function resetAccountFixtures(): Promise<void> {
    await sql.query('update rolegate.users set password_hash = $1, email_confirmed_at = null where id = any($2::uuid[])', [passwordHash, [accountUsers.confirm.id, accountUsers.pending.id]]);
    await sql.query('update rolegate.users set password_hash = null, email_confirmed_at = null where id = $1', [accountUsers.invitee.id]);
    await resetHolder();
  }

  /** The account function's user as it was made: its address, password and token_version, confirmed and enabled. */
  async function resetHolder(): Promise<void> {
    await sql.query('update rolegate.users set email = $2, password_hash = $3, token_version = $4, email_confirmed_at = $5, disabled_at = null where id = $1',
      [accountUsers.holder.id, holderRow.email, holderRow.password_hash, holderRow.token_version, holderRow.email_confirmed_at]);
    // The holder's GitHub identity, which action=unlink may have removed.
    await sql.query(`insert into rolegate.identities (id, user_id, provider, subject, email, created_at, last_sign_in_at)
      values ($1, $2, 'github', 'fuzz-holder', $3, $4, $4) on conflict (id) do nothing`, [HOLDER_IDENTITY, accountUsers.holder.id, holderRow.email, HOLDER_IDENTITY_AT]);
  }

  /** The holder's identity as GET /account lists it. */
  function holderIdentityListed() {
    return { id: HOLDER_IDENTITY, provider: 'github', email: holderRow.email, created_at: expect.any(String), last_sign_in_at: expect.any(String) };
  }

  /** Where the address change links verify takes move the holder to (change-taken's goes to the admin's address). */
  const LINK_NEW_ADDRESS = 'moved-by-link@fuzz.example';

  /** Makes a token in the state `kind` names (see EmailTokenKind), as the store would have after a recovery request. */
  async function emailToken(kind: EmailTokenKind): Promise<string> {
    const token = newEmailToken();
    emailTokens.add(token);
    if (kind === 'unknown') return token;
    if (kind.includes('-')) {
      // A sign-up, invitation or address change link in the state named, as request_signup,
      // invite_user and request_email_change store it (an address change's email is the new address).
      const [purpose, state] = kind.split('-') as [LinkPurpose, LinkState | 'taken'];
      const user = purpose === 'signup' ? accountUsers.confirm : purpose === 'invite' ? accountUsers.invitee : accountUsers.holder;
      const address = purpose !== 'change' ? user.email : state === 'taken' ? users.admin.email : LINK_NEW_ADDRESS;
      await sql.query(
        `insert into rolegate.email_tokens (token_hash, purpose, user_id, email, expires_at, used_at)
         values ($1, $2, $3, $4, now() + make_interval(secs => $5), case when $6 then now() end)`,
        [emailTokenHash(token), purpose === 'change' ? 'email_change' : purpose, user.id, address, state === 'expired' ? -1 : 3600, state === 'used']);
      return token;
    }
    // Each state has its own user: a newer recovery token retires the older ones of its user.
    const user = kind === 'live' || kind === 'magic' ? accountUsers.reset : kind === 'disabled' ? accountUsers.gone : accountUsers.old;
    if (kind === 'disabled') await store.setUserDisabled(user.id, false);
    const queued = await store.requestAccountMail({
      purpose: kind === 'magic' ? 'magic_link' : 'recovery', email: user.email, tokenHash: emailTokenHash(token), ttlSeconds: 3600,
      sealed: 'fixture', ip: '198.51.100.1', throttle: { windowSeconds: 1, keys: [] },
    });
    if (queued.status !== 'queued') throw new Error(`fixture token: ${queued.status}`);
    if (kind === 'used') await sql.query('update rolegate.email_tokens set used_at = now() where token_hash = $1', [emailTokenHash(token)]);
    if (kind === 'expired') await sql.query(`update rolegate.email_tokens set expires_at = now() - interval '1 second' where token_hash = $1`, [emailTokenHash(token)]);
    if (kind === 'disabled') await store.setUserDisabled(user.id, true);
    return token;
  }

  /** The recipe with every token placeholder replaced by a real token (one per state per case), and what was used. */
  async function materialiseTokens(recipe: RequestRecipe, cookieHeader: string) {
    const made = new Map<EmailTokenKind, string>();
    const used = new Set<EmailTokenKind>();
    const spots = [recipe.query, cookieHeader, recipe.body.body ?? ''];
    if (recipe.body.isBase64Encoded && recipe.body.body) spots.push(Buffer.from(recipe.body.body, 'base64').toString('utf8'));
    for (const spot of spots) {
      for (const [, kind] of spot.matchAll(EMAIL_TOKEN_PLACEHOLDER)) {
        const k = kind as EmailTokenKind;
        used.add(k);
        if (!made.has(k)) made.set(k, await emailToken(k));
      }
    }
    const replace = (text: string) => text.replace(EMAIL_TOKEN_PLACEHOLDER, (_, kind: EmailTokenKind, how: Mangle) => mangle(made.get(kind)!, how));
    let body = recipe.body.body;
    if (body !== null) {
      if (recipe.body.isBase64Encoded) {
        // An honest base64 body is decoded, filled in and encoded again; a lying one stays as it is.
        const decoded = Buffer.from(body, 'base64');
        if (decoded.toString('base64') === body && EMAIL_TOKEN_PLACEHOLDER.test(decoded.toString('utf8'))) body = Buffer.from(replace(decoded.toString('utf8'))).toString('base64');
        EMAIL_TOKEN_PLACEHOLDER.lastIndex = 0;
      } else {
        body = replace(body);
      }
    }
    return { recipe: { ...recipe, query: replace(recipe.query), body: { ...recipe.body, body } }, cookieHeader: replace(cookieHeader), made, used };
  }

  /** The oracle for recover and verify: JSON errors as for the other functions, and verify's pages. */
  async function checkAccountAnswer(kind: AccountKind, response: HandlerResponse): Promise<{ body: any; live: Map<string, string>; code?: string }> {
    expect(response.statusCode, 'status').toBeLessThan(500);
    expect(response.headers?.['Cache-Control']).toBe('no-store');
    const text = response.body ?? '';
    expect(text).not.toMatch(STACK_TRACE);
    const live = new Map<string, string>();
    for (const c of setCookies(response)) {
      if (/Max-Age=0|Expires=Thu, 01 Jan 1970/.test(c.raw)) {
        expect(c.value, `deleted ${c.name}`).toBe('');
        continue;
      }
      live.set(c.name, c.value);
    }
    if (live.has('nf_jwt')) await verifyAccessToken(live.get('nf_jwt')!, { secrets: [deps.config.jwtSecret], issuer: deps.config.jwtIssuer, now: deps.now() });
    if (response.statusCode === 303) {
      const location = String(response.headers?.Location ?? '');
      expect(isSafeNextPath(location), `Location ${location}`).toBe(true);
      expect(location, `Location ${JSON.stringify(location)}`).toMatch(/^[\u0021-\u007e]+$/u);
      expect(text).toBe('');
      const error = /[?&]error=([a-z_]+)/.exec(location)?.[1];
      if (error) {
        expect(ACCOUNT_CODES[kind]).toContain(error);
        expect(live.size, 'a refusal sets no live cookie').toBe(0);
      }
      return { body: null, live, code: error };
    }
    const contentType = String(response.headers?.['Content-Type']);
    if (contentType.startsWith('text/html')) {
      // A page for a browser: the code in a header and a meta tag, the status the table's.
      expect(kind).toBe('verify');
      const code = String(response.headers?.['X-Rolegate-Error']);
      expect(ACCOUNT_CODES[kind]).toContain(code);
      expect(response.statusCode).toBe(STATUS[code as keyof typeof STATUS]);
      expect(text).toContain(`<meta name="rolegate-error" content="${code}">`);
      expect(live.size, 'a page sets no live cookie').toBe(0);
      return { body: null, live, code };
    }
    expect(contentType).toMatch(/^application\/json/);
    const body = JSON.parse(text);
    if (response.statusCode === 200 || response.statusCode === 201 || response.statusCode === 202) {
      expect(body.error).toBeUndefined();
      return { body, live };
    }
    expect(Object.keys(body)).toEqual(['error']);
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message']);
    expect(ACCOUNT_CODES[kind]).toContain(body.error.code);
    expect(response.statusCode).toBe(STATUS[body.error.code as keyof typeof STATUS]);
    expect(typeof body.error.message).toBe('string');
    expect(live.size, `an error (${kind}) sets no live cookie`).toBe(0);
    return { body, live, code: body.error.code };
  }

  function fieldsOf(event: HandlerEvent): Record<string, unknown> {
    try {
      return parseBody(event).fields;
    } catch {
      return {};
    }
  }

  /**
   * One new link for `userId` (its older unused links of the same purpose retired) and its
   * mail to `email`, the link in it sealed and the very token stored; nothing else of those tables.
   */
  function checkLinkWrites(changes: Record<string, TableDiff>, purpose: string, userId: unknown, email: string, mail_ = { template: purpose, retired: [purpose] }) {
    const tokens = changes.email_tokens!;
    expect([tokens.added.length, tokens.removed.length]).toEqual([1, 0]);
    const token = tokens.added[0]!;
    expect(token).toMatchObject({ purpose, user_id: userId, email, used_at: null });
    for (const c of tokens.changed) {
      expect([c.columns, c.before.user_id]).toEqual([['used_at'], userId]);
      expect(mail_.retired).toContain(c.before.purpose);
    }
    const mails = changes.mail_outbox!;
    expect([mails.changed.length, mails.removed.length, mails.added.length]).toEqual([0, 0, 1]);
    const mail = mails.added[0]!;
    expect(mail).toMatchObject({ recipient: email, template: mail_.template, sent_at: null, attempts: 0 });
    // The link is in the outbox only sealed, and it is the token just stored.
    const link = JSON.parse(openMailSecret([new Secret(SECRET)], String(mail.sealed))!) as { url: string; token: string };
    emailTokens.add(link.token);
    expect(sha256(link.token)).toBe(token.token_hash);
    expect(link.url).toBe(`${SITE}/auth/verify?token=${link.token}`);
  }

  /** An address as the server reads it (trimmed, NFC, lower case) and as PostgreSQL stores it (a lone surrogate becomes U+FFFD). */
  function storedAddress(event: HandlerEvent): string {
    const email = fieldsOf(event).email;
    expect(typeof email).toBe('string');
    return Buffer.from((email as string).trim().normalize('NFC').toLowerCase(), 'utf8').toString('utf8');
  }

  /** A recovery request changes, at most, one new token (older ones of its user retired) and its mail. */
  function checkRecoverTables(changes: Record<string, TableDiff>, event: HandlerEvent, purpose: 'recovery' | 'magic_link' = 'recovery') {
    if (Object.keys(changes).length === 0) return;
    expect(Object.keys(changes).sort()).toEqual(['email_tokens', 'mail_outbox']);
    const token = changes.email_tokens!.added[0];
    expect(enabledUserIds()).toContain(token?.user_id);
    expect(storedAddress(event)).toBe(String(token!.email).toLowerCase());
    checkLinkWrites(changes, purpose, token!.user_id, String(token!.email));
  }

  /**
   * A password set through a live recovery or invitation link: that token used, the password
   * changed (an invitee's first, the address confirmed with it), the user's sessions ended, one new.
   */
  function checkResetTables(changes: Record<string, TableDiff>, event: HandlerEvent, live: Map<string, string>, sessionBefore: string | undefined, user = accountUsers.reset, purpose: 'recovery' | 'invite' = 'recovery') {
    const reset = user.id;
    expect(Object.keys(changes).filter((t) => !['email_tokens', 'users', 'sessions', 'refresh_tokens'].includes(t))).toEqual([]);
    const tokens = changes.email_tokens!;
    expect([tokens.added.length, tokens.removed.length]).toEqual([0, 0]);
    // The link used, and the user's other recovery, sign-in and address change links retired with the new password.
    const usedLink = tokens.changed.filter((c) => c.before.purpose === purpose && c.before.used_at === null);
    expect(usedLink.length).toBeGreaterThanOrEqual(1);
    for (const c of tokens.changed) {
      expect([c.columns, c.before.user_id]).toEqual([['used_at'], reset]);
      expect([purpose, 'recovery', 'magic_link', 'email_change']).toContain(c.before.purpose);
    }
    if (purpose === 'invite') expect(userRowsChanged(changes)[0]!.after.email_confirmed_at, 'an accepted invitation confirms the address').not.toBeNull();
    const userRows = changes.users!;
    expect([userRows.added.length, userRows.removed.length, userRows.changed.length]).toEqual([0, 0, 1]);
    expect(userRows.changed[0]!.before.id).toBe(reset);
    expect(userRows.changed[0]!.columns).toContain('password_hash');
    for (const column of userRows.changed[0]!.columns) expect(['password_hash', 'updated_at', 'token_version', 'email_confirmed_at']).toContain(column);
    const password = fieldsOf(event).password as string;
    expect(bcrypt.compareSync(password, String(userRows.changed[0]!.after.password_hash)), 'the password sent is the one set').toBe(true);
    const sessions = changes.sessions!;
    expect(sessions.added).toHaveLength(1);
    expect(sessions.added[0]).toMatchObject({ user_id: reset, revoked_at: null });
    for (const c of sessions.changed) {
      expect(c.before.user_id).toBe(reset);
      expect(c.after.revoked_at).not.toBeNull();
    }
    // The session the user had before the reset is over.
    if (sessionBefore) expect(sessions.changed.map((c) => c.before.id)).toContain(sessionBefore);
    expect(changes.refresh_tokens!.added).toMatchObject([{ token_hash: sha256(refreshTokenOf(live)!), session_id: sessions.added[0]!.id, parent_id: null }]);
    for (const c of changes.refresh_tokens!.changed) expect(c.columns).toEqual(['revoked_at']);
  }

  function userRowsChanged(changes: Record<string, TableDiff>) {
    const rows = changes.users;
    expect([rows?.added.length, rows?.removed.length, rows?.changed.length]).toEqual([0, 0, 1]);
    return rows!.changed;
  }

  /**
   * A sign-up confirmed through its live link: that token used, the address confirmed and
   * nothing else of the user (a password sent along is not set), one new session; no other
   * session ended, no mail.
   */
  function checkConfirmTables(changes: Record<string, TableDiff>, live: Map<string, string>) {
    const user = accountUsers.confirm.id;
    expect(Object.keys(changes).sort()).toEqual(['email_tokens', 'refresh_tokens', 'sessions', 'users']);
    const tokens = changes.email_tokens!;
    expect([tokens.added.length, tokens.removed.length, tokens.changed.length]).toEqual([0, 0, 1]);
    expect([tokens.changed[0]!.columns, tokens.changed[0]!.before.user_id, tokens.changed[0]!.before.purpose]).toEqual([['used_at'], user, 'signup']);
    const [row] = userRowsChanged(changes);
    expect([row!.before.id, row!.columns.sort()]).toEqual([user, ['email_confirmed_at', 'updated_at']]);
    expect(row!.after.email_confirmed_at).not.toBeNull();
    const sessions = changes.sessions!;
    expect([sessions.added.length, sessions.removed.length, sessions.changed.length]).toEqual([1, 0, 0]);
    expect(sessions.added[0]).toMatchObject({ user_id: user, revoked_at: null });
    expect(changes.refresh_tokens!).toMatchObject({ added: [{ token_hash: sha256(refreshTokenOf(live)!), session_id: sessions.added[0]!.id, parent_id: null }], changed: [], removed: [] });
  }

  /**
   * An address change link used: that token used, the holder moved to the address it was
   * mailed to (and that address confirmed) and nothing else of the user, one new session; no
   * other session ended, no mail.
   */
  function checkAddressMovedTables(changes: Record<string, TableDiff>, live: Map<string, string>, body: any) {
    const user = accountUsers.holder.id;
    expect(Object.keys(changes).sort()).toEqual(['email_tokens', 'refresh_tokens', 'sessions', 'users']);
    const tokens = changes.email_tokens!;
    expect([tokens.added.length, tokens.removed.length, tokens.changed.length]).toEqual([0, 0, 1]);
    expect([tokens.changed[0]!.columns, tokens.changed[0]!.before.user_id, tokens.changed[0]!.before.purpose, tokens.changed[0]!.before.email]).toEqual([['used_at'], user, 'email_change', LINK_NEW_ADDRESS]);
    const [row] = userRowsChanged(changes);
    expect([row!.before.id, row!.before.email, row!.after.email, row!.columns.sort()]).toEqual([user, holderRow.email, LINK_NEW_ADDRESS, ['email', 'email_confirmed_at', 'updated_at']]);
    const sessions = changes.sessions!;
    expect([sessions.added.length, sessions.removed.length, sessions.changed.length]).toEqual([1, 0, 0]);
    expect(sessions.added[0]).toMatchObject({ user_id: user, revoked_at: null, token_version: row!.after.token_version });
    expect(changes.refresh_tokens!).toMatchObject({ added: [{ token_hash: sha256(refreshTokenOf(live)!), session_id: sessions.added[0]!.id, parent_id: null }], changed: [], removed: [] });
    if (body) expect(body.user).toMatchObject({ id: user, email: LINK_NEW_ADDRESS });
  }

  /** Which of the case's tokens `token` is (undefined: none the test made). */
  function kindOf(made: Map<EmailTokenKind, string>, token: string | undefined): EmailTokenKind | undefined {
    for (const [kind, value] of made) if (value === token) return kind;
    return undefined;
  }

  function enabledUserIds(): string[] {
    return [users.member.id, users.admin.id, users.passwordless.id, accountUsers.reset.id, accountUsers.old.id];
  }

  /**
   * The request counted against the mail limits (login_throttle), or not: a request refused
   * before the store is asked counts nowhere; one the store took (accepted, throttled, or an
   * invitation for an address that has an account) counts once for its address and once for
   * its sender (`ip:…`, or `inviter:<id>`), and nothing else.
   */
  function checkCounted(throttle: TableDiff | undefined, counted: false | { email: string; sender: RegExp }): string[] {
    if (!counted) {
      expect(throttle, 'a refusal before the store counts nowhere').toBeUndefined();
      return [];
    }
    expect(throttle?.removed).toEqual([]);
    for (const c of throttle?.changed ?? []) for (const column of c.columns) expect(['failures', 'window_started_at']).toContain(column);
    const keys = [...throttle?.added ?? [], ...(throttle?.changed ?? []).map((c) => c.after)].map((row) => String(row.key));
    expect(keys).toContain(`mail:address:${counted.email}`);
    for (const key of keys) if (key !== `mail:address:${counted.email}`) expect(key).toMatch(counted.sender);
    return keys;
  }

  /** The user a snapshot holds for `email`, as the unique index compares (lower case). */
  function userByEmail(before: Snapshot, email: string): Record<string, unknown> | undefined {
    return [...before.get('users')!.values()].find((row) => String(row.email).toLowerCase() === email);
  }

  function passwordSent(event: HandlerEvent): string {
    const password = fieldsOf(event).password;
    expect(typeof password).toBe('string');
    return password as string;
  }

  /**
   * What an accepted sign-up may write, decided from the account the address had before:
   * none (a new user, unconfirmed, with its link and mail; or, without confirmation, a
   * confirmed user and a session), waiting for its confirmation (the new password and a new
   * link), disabled (nothing), any other (a notice to its owner, no link).
   */
  function checkSignupTables(kind: 'signup', policy: SignupPolicy, before: Snapshot, changes: Record<string, TableDiff>, event: HandlerEvent, live: Map<string, string>, body: any): string {
    const settings = { ...DEFAULT_ACCOUNT_SETTINGS, ...SIGNUP_POLICIES[policy] };
    const email = storedAddress(event);
    expect(settings.registration, 'a sign-up accepted under a closed policy').toBe('open');
    if (settings.allowedDomains.length) expect(settings.allowedDomains).toContain(email.slice(email.lastIndexOf('@') + 1));
    const existing = userByEmail(before, email);
    const signedIn = live.has('nf_jwt');
    if (!existing && !settings.requireConfirmation) {
      expect(signedIn, 'no confirmation asked: a new account signs in at once').toBe(true);
      expect(Object.keys(changes).sort()).toEqual(['refresh_tokens', 'sessions', 'users']);
      expect([changes.users!.added.length, changes.users!.changed.length, changes.users!.removed.length]).toEqual([1, 0, 0]);
      const user = changes.users!.added[0]!;
      expect(user).toMatchObject({ email, roles: settings.newUserRoles, disabled_at: null });
      expect(user.email_confirmed_at).not.toBeNull();
      expect(bcrypt.compareSync(passwordSent(event), String(user.password_hash)), 'the password sent is the one set').toBe(true);
      expect(changes.sessions!).toMatchObject({ added: [{ user_id: user.id, revoked_at: null }], changed: [], removed: [] });
      expect(changes.refresh_tokens!).toMatchObject({ added: [{ token_hash: sha256(refreshTokenOf(live)!), session_id: changes.sessions!.added[0]!.id, parent_id: null }], changed: [], removed: [] });
      if (body) expect(body.user).toEqual({ id: user.id, email, roles: settings.newUserRoles });
      return '(signed in at once)';
    }
    // Every other sign-up answers "check your email", whatever the address.
    expect(signedIn, `${kind} signed in an address that had an account, or with confirmation asked`).toBe(false);
    if (body) expect(body).toEqual({ ok: true, message: expect.any(String) });
    if (!existing) {
      expect(Object.keys(changes).sort()).toEqual(['email_tokens', 'mail_outbox', 'users']);
      expect([changes.users!.added.length, changes.users!.changed.length, changes.users!.removed.length]).toEqual([1, 0, 0]);
      const user = changes.users!.added[0]!;
      expect(user).toMatchObject({ email, roles: settings.newUserRoles, disabled_at: null, email_confirmed_at: null });
      expect(bcrypt.compareSync(passwordSent(event), String(user.password_hash)), 'the password sent is the one set').toBe(true);
      checkLinkWrites(changes, 'signup', user.id, email);
      return '(new user)';
    }
    if (existing.disabled_at !== null) {
      expect(changes, 'a sign-up for a disabled account changes nothing').toEqual({});
      return '(disabled: nothing)';
    }
    if (existing.email_confirmed_at === null && settings.requireConfirmation) {
      // Never confirmed: no password sent is kept, and the mailbox gets a link to choose one.
      const [row] = userRowsChanged(changes);
      expect([row!.before.id, row!.after.password_hash]).toEqual([existing.id, null]);
      expect(row!.columns.sort()).toEqual(existing.password_hash === null ? ['updated_at'] : ['password_hash', 'updated_at']);
      expect(Object.keys(changes).sort()).toEqual(['email_tokens', 'mail_outbox', 'users']);
      checkLinkWrites(changes, 'invite', existing.id, String(existing.email), { template: 'signup_pending', retired: ['signup', 'invite'] });
      return '(new link for an unconfirmed sign-up)';
    }
    expect(Object.keys(changes), 'a sign-up for an existing account changes nothing of it').toEqual(['mail_outbox']);
    expect(changes.mail_outbox).toMatchObject({ added: [{ recipient: existing.email, template: 'signup_existing', sealed: null }], changed: [], removed: [] });
    return '(notice to the owner)';
  }

  /** The roles an invitation asked for, read as invite.ts reads them (absent: the configured ones). */
  function rolesAsked(event: HandlerEvent): string[] {
    const value = fieldsOf(event).roles;
    if (value === undefined) return inviteAccounts.newUserRoles;
    const list = typeof value === 'string' ? value.split(',').map((r) => r.trim()).filter(Boolean) : value;
    expect(Array.isArray(list) && list.length <= 32, 'roles accepted').toBe(true);
    return [...new Set(list as string[])];
  }

  /**
   * What an accepted invitation may write, decided from the account the address had: none (a
   * new user with the roles asked, no password, unconfirmed, with its link and mail), one
   * without a password (a new link and mail, the user unchanged); never one with a password
   * or a disabled one (user_exists).
   */
  function checkInviteTables(before: Snapshot, changes: Record<string, TableDiff>, event: HandlerEvent, response: HandlerResponse, body: any): string {
    const email = storedAddress(event);
    const existing = userByEmail(before, email);
    expect(existing?.password_hash ?? null, 'an invitation accepted for an account with a password').toBeNull();
    expect(existing?.disabled_at ?? null, 'an invitation accepted for a disabled account').toBeNull();
    expect(response.statusCode).toBe(body ? (existing ? 200 : 201) : 303);
    if (!existing) {
      expect(Object.keys(changes).sort()).toEqual(['email_tokens', 'mail_outbox', 'users']);
      expect([changes.users!.added.length, changes.users!.changed.length, changes.users!.removed.length]).toEqual([1, 0, 0]);
      const user = changes.users!.added[0]!;
      expect(user).toMatchObject({ email, roles: rolesAsked(event), password_hash: null, email_confirmed_at: null, disabled_at: null });
      if (body) expect(body).toEqual({ status: 'invited', user: { id: user.id, email, roles: rolesAsked(event) } });
      checkLinkWrites(changes, 'invite', user.id, email);
      return '(invited)';
    }
    expect(Object.keys(changes).sort(), 'a new invitation changes nothing of the user').toEqual(['email_tokens', 'mail_outbox']);
    if (body) expect(body).toEqual({ status: 'resent', user: { id: existing.id, email: existing.email, roles: existing.roles } });
    checkLinkWrites(changes, 'invite', existing.id, String(existing.email));
    return '(resent)';
  }

  /** Materialised cookies for an account case: a session is made only when a recipe asks and `sessionOf` names a user. */
  async function accountCookies(raw: RequestRecipe, sessionOf: User | undefined, rightSigned: Set<unknown>) {
    let liveOne: Promise<Live> | undefined;
    const live = sessionOf ? () => (liveOne ??= liveSession(sessionOf)) : async (): Promise<Live> => { throw new Error('no live session in this case'); };
    const pairs: string[] = [];
    for (const cookie of raw.cookies) pairs.push(`${cookie.name}=${await cookieValue(cookie.value, live, rightSigned).catch(() => 'x')}`);
    const authorization = raw.authorization && `${raw.authorization.scheme}${await cookieValue(raw.authorization.value, live, rightSigned).catch(() => 'x')}`;
    return { pairs, live, authorization };
  }

  /** Sends `event`, checks the answer, and returns what changed: the watched tables, and login_throttle apart. */
  async function sendAccountRequest(kind: AccountKind, handler: (event: HandlerEvent) => Promise<HandlerResponse>, event: HandlerEvent) {
    const before = await snapshot(sql, [...watched, 'login_throttle']);
    const hashesBefore = hashes;
    const response = await handler(event);
    const answer = await checkAccountAnswer(kind, response);
    const target = String(response.headers?.Location).split('?')[0]!;
    const page = ['/choose-password', '/check-email', '/forgot-password', '/confirm', '/signup'].includes(target) ? target : 'next';
    const key = response.statusCode === 303 ? `${event.httpMethod} 303 ${page}${answer.code ? ` ${answer.code}` : ''}`
      : `${event.httpMethod} ${response.statusCode}${answer.code ? ` ${answer.code}` : ''}`;
    countOutcome(kind, key);
    const issued = refreshTokenOf(answer.live);
    if (issued) issuedTokens.add(issued);
    const after = await snapshot(sql, [...watched, 'login_throttle']);
    const { login_throttle: throttle, ...changes } = diff(before, after);
    return { response, ...answer, key, before, after, changes, throttle, hashesBefore };
  }

  /** No raw token at rest; then each case's picture made small again, the fixtures as they were. */
  async function endAccountCase(after: Snapshot, kind: AccountKind): Promise<void> {
    const stored = JSON.stringify([...after.values()].map((rows) => [...rows.values()]));
    expect(tokensIn(stored, emailTokens), 'raw email tokens at rest').toEqual([]);
    expect(tokensIn(stored, issuedTokens), 'raw refresh tokens at rest').toEqual([]);
    await sql.query('delete from rolegate.sessions; delete from rolegate.email_tokens; delete from rolegate.mail_outbox');
    if (kind === 'recover' || kind === 'magic-link') return;
    // The account function makes no user and changes none but its own (its oracle checks that).
    if (kind === 'account') return resetHolder();
    await sql.query('delete from rolegate.users where not (id = any($1::uuid[]))', [fixtureUserIds]);
    await resetAccountFixtures();
  }

  async function runAccountCase(kind: 'recover' | 'magic-link' | 'verify', raw: RequestRecipe): Promise<void> {
    accountCounts[kind].cases += 1;
    const rightSigned = new Set<unknown>();
    // Session cookies are made only when a refresh or access token recipe asks, as in runCase.
    const { pairs } = await accountCookies(raw, kind === 'verify' ? users.member : undefined, rightSigned);
    const { recipe, cookieHeader, made, used } = await materialiseTokens(raw, pairs.join('; ') + raw.cookieTail);
    // Half the time the user the live link is for has a session of their own, which a reset must end.
    const sessionBefore = made.has('live') && accountCounts[kind].cases % 2 ? (await liveSession(accountUsers.reset)).sessionId : undefined;
    const event = toEvent(recipe.method, `/.netlify/functions/${kind}`, recipe, cookieHeader);
    const { response, body, live: liveCookies, code, key, after, changes, throttle, hashesBefore } = await sendAccountRequest(kind, accountHandlers[kind], event);

    if (kind === 'recover' || kind === 'magic-link') {
      const purpose = kind === 'recover' ? 'recovery' : 'magic_link';
      const accepted = response.statusCode === 202 || (response.statusCode === 303 && !code);
      if (accepted) {
        if (response.statusCode === 303) expect(response.headers?.Location).toBe(`/check-email?sent=${purpose}`);
        else expect(body).toEqual({ ok: true, message: expect.any(String) });
        checkRecoverTables(changes, event, purpose);
      } else {
        expect(changes, `recover answered ${key} and must change nothing`).toEqual({});
      }
      checkCounted(throttle, (accepted || code === 'throttled') && { email: storedAddress(event), sender: /^mail:ip:/ });
    } else if (event.httpMethod === 'GET' && response.statusCode === 303 && !code) {
      // The link opened: its token moved into the cookie, nothing used up.
      expect(response.headers?.['Referrer-Policy']).toBe('no-referrer');
      const opened = kindOf(made, liveCookies.get('rolegate_link'));
      // A live link, or one whose user was disabled since: the page opens for it, and the
      // POST refuses it (email_token_status does not look at the user).
      expect(['live', 'disabled', 'signup-live', 'invite-live', 'change-live', 'change-taken']).toContain(opened);
      // A confirmation (of a sign-up or a new address) leads to the page that confirms, the others to the one that chooses a password.
      expect(response.headers?.Location).toBe(['signup-live', 'change-live', 'change-taken'].includes(opened!) ? '/confirm' : '/choose-password');
      if (opened === 'disabled') countOutcome(kind, '(opened a disabled user\'s link)');
      if (opened !== 'live' && opened !== 'disabled') countOutcome(kind, `(opened a ${opened} link)`);
      expect(changes, 'opening a link changes nothing').toEqual({});
    } else if (liveCookies.has('nf_jwt')) {
      expect(event.httpMethod).toBe('POST');
      expect(response.statusCode === 200 || (response.statusCode === 303 && !code)).toBe(true);
      const usedHash = changes.email_tokens?.changed[0]?.before.token_hash;
      const usedKind = [...made].find(([, token]) => sha256(token) === usedHash)?.[0];
      // Only a live link signs in: a recovery, an invitation (the password chosen), a confirmation or an address change.
      expect(['live', 'invite-live', 'signup-live', 'change-live'], 'the link that signed in').toContain(usedKind);
      const user = usedKind === 'live' ? accountUsers.reset : usedKind === 'invite-live' ? accountUsers.invitee : usedKind === 'change-live' ? accountUsers.holder : accountUsers.confirm;
      if (response.statusCode === 200) expect(body.user.id).toBe(user.id);
      if (usedKind === 'live') checkResetTables(changes, event, liveCookies, sessionBefore);
      else if (usedKind === 'invite-live') checkResetTables(changes, event, liveCookies, undefined, user, 'invite');
      else if (usedKind === 'change-live') checkAddressMovedTables(changes, liveCookies, body);
      else checkConfirmTables(changes, liveCookies);
      if (usedKind !== 'live') countOutcome(kind, `(used a ${usedKind} link)`);
    } else {
      expect(liveCookies.size, `${key} sets no live cookie`).toBe(0);
      if ((used.has('disabled') || used.has('change-taken')) && code === 'link_invalid' && changes.email_tokens) {
        // A link to a user disabled since the mail is refused after use, by design
        // (reset_password_with_token: "the token stays used"), and so is an address change
        // to an address another account holds by now (change_email_with_token: "the link
        // used"): that one write only, the account as it was.
        expect(Object.keys(changes)).toEqual(['email_tokens']);
        const [c] = changes.email_tokens.changed;
        const consumed = [...made].find(([, token]) => sha256(token) === c?.before.token_hash)?.[0];
        expect(['disabled', 'change-taken']).toContain(consumed);
        expect(changes.email_tokens.changed.map((c) => [c.columns, c.before.user_id])).toEqual([[['used_at'], consumed === 'disabled' ? accountUsers.gone.id : accountUsers.holder.id]]);
        countOutcome(kind, consumed === 'disabled' ? '(used a disabled user\'s link)' : '(used a change-taken link)');
      } else {
        expect(changes, `verify answered ${key} and must change nothing`).toEqual({});
      }
      // A dead link is refused before any bcrypt work (only the disabled user's is known dead after; an address change hashes nothing).
      if (code?.startsWith('link_') && !used.has('disabled')) expect(hashes, 'bcrypt work for a dead link').toBe(hashesBefore);
    }
    // Using a link counts nowhere.
    if (kind === 'verify') checkCounted(throttle, false);
    await endAccountCase(after, kind);
  }

  async function runSignupCase({ policy, request: raw }: { policy: SignupPolicy; request: RequestRecipe }): Promise<void> {
    accountCounts.signup.cases += 1;
    const { pairs } = await accountCookies(raw, undefined, new Set());
    const event = toEvent(raw.method, '/.netlify/functions/signup', raw, pairs.join('; ') + raw.cookieTail);
    const { response, body, live, code, key, before, after, changes, throttle } = await sendAccountRequest('signup', signupHandlers[policy], event);
    const accepted = response.statusCode === 200 || response.statusCode === 202 || (response.statusCode === 303 && !code);
    countOutcome('signup', `(${policy}) ${accepted ? 'accepted' : code ?? 'refused'}`);
    if (code === 'signup_disabled') expect(SIGNUP_POLICIES[policy].registration).not.toBe('open');
    if (code === 'email_not_allowed') expect(SIGNUP_POLICIES[policy].allowedDomains?.length).toBeGreaterThan(0);
    if (accepted) {
      if (response.statusCode === 303 && !live.has('nf_jwt')) expect(response.headers?.Location).toBe('/check-email?sent=signup');
      countOutcome('signup', checkSignupTables('signup', policy, before, changes, event, live, body));
    } else {
      expect(changes, `signup answered ${key} and must change nothing`).toEqual({});
    }
    checkCounted(throttle, (accepted || code === 'throttled') && { email: storedAddress(event), sender: /^mail:ip:/ });
    await endAccountCase(after, 'signup');
  }

  type Inviter = 'none' | 'member' | 'admin';
  /** How the inviter's access token travels: the nf_jwt cookie, a Bearer header, or the cookie behind whatever hostile header and cookies the recipe has. */
  type Carrier = 'cookie' | 'bearer' | 'hostile';

  async function runInviteCase({ inviter, carrier, request: raw }: { inviter: Inviter; carrier: Carrier; request: RequestRecipe }): Promise<void> {
    accountCounts.invite.cases += 1;
    const rightSigned = new Set<unknown>();
    const sessionOf = inviter === 'admin' ? users.admin : inviter === 'member' ? users.member : undefined;
    const { pairs, live, authorization: hostile } = await accountCookies(raw, sessionOf, rightSigned);
    let authorization = hostile;
    if (sessionOf) {
      const { accessToken } = await live();
      rightSigned.add(sessionOf.id);
      if (carrier === 'cookie') {
        pairs.unshift(`nf_jwt=${accessToken}`);
        authorization = undefined;
      } else if (carrier === 'bearer') {
        authorization = `Bearer ${accessToken}`;
      } else {
        pairs.push(`nf_jwt=${accessToken}`);
      }
    }
    const event = toEvent(raw.method, '/.netlify/functions/invite', raw, pairs.join('; ') + raw.cookieTail);
    if (authorization !== undefined) event.headers.authorization = authorization;
    const { response, body, live: liveCookies, code, key, before, after, changes, throttle } = await sendAccountRequest('invite', invite, event);
    expect(liveCookies.size, 'an invitation sets no cookie').toBe(0);
    // A form without an admin's session goes to sign in (aef303b), with no code: a refusal, not an invitation.
    const toSignIn = response.statusCode === 303 && !code && /^\/login\?next=/.test(String(response.headers?.Location));
    const accepted = !toSignIn && ([200, 201].includes(response.statusCode) || (response.statusCode === 303 && !code));
    if (accepted && response.statusCode === 303) expect(String(response.headers?.Location)).toMatch(/\?done=invited$/);
    countOutcome('invite', `(${inviter === 'none' ? 'no session' : `${inviter}'s token`}) ${accepted ? 'accepted' : toSignIn ? 'to sign in' : code ?? 'refused'}`);
    if (accepted) {
      countOutcome('invite', checkInviteTables(before, changes, event, response, body));
    } else {
      if (code === 'user_exists') {
        const existing = userByEmail(before, storedAddress(event));
        expect(existing && (existing.password_hash !== null || existing.disabled_at !== null), 'user_exists for an address without a live account with a password').toBe(true);
      }
      expect(changes, `invite answered ${key} and must change nothing`).toEqual({});
    }
    const keys = checkCounted(throttle, (accepted || code === 'throttled' || code === 'user_exists') && { email: storedAddress(event), sender: /^mail:inviter:/ });
    // Only a token we signed, with the inviter role, gets as far as the store.
    for (const k of keys.filter((k) => k.startsWith('mail:inviter:'))) expect(rightSigned).toContain(k.slice('mail:inviter:'.length));
    if (inviter !== 'admin' && accepted) expect(rightSigned.size, 'an invitation without an admin token').toBeGreaterThan(inviter === 'member' ? 1 : 0);
    await endAccountCase(after, 'invite');
  }

  // ------------------------------------------------------------ the account function: a new password, a new address

  /**
   * Who sends the request: nobody we signed a token for, the holder's live session, or a
   * token of ours that names a session no longer live (ended, gone stale when token_version
   * moved on, its user disabled) or another user's session.
   */
  type Caller = 'none' | 'live' | 'ended' | 'stale' | 'disabled' | 'foreign-sid';
  interface AccountChangeCase {
    caller: Caller;
    carrier: Carrier;
    /** Other live sessions of the holder (a new password ends them), and one ended already. */
    others: number;
    endedOther: boolean;
    /** Links of the holder waiting: recovery ones (live, expired, used), a sign-up and an address change. */
    links: boolean;
    /** The login throttle at its limit for the holder, or the mail throttle for the address asked. */
    preThrottle: 'none' | 'login' | 'mail';
    request: RequestRecipe;
  }
  const EMPTY_DIFF: TableDiff = { added: [], removed: [], changed: [] };
  /** Codes the handler answers before it reads who is signed in, or anything of the body's meaning. */
  const EARLY_CODES = ['method_not_allowed', 'bad_origin', 'unsupported_media_type', 'payload_too_large'];

  /**
   * `live` other sessions of the holder and `ended` ended ones (their refresh tokens revoked
   * with them, as revoke_session leaves them), each with one refresh token nobody holds.
   */
  async function otherSessions(live: number, ended: boolean): Promise<void> {
    await sql.query(
      `with s as (
         insert into rolegate.sessions (user_id, token_version, revoked_at, revoked_reason)
         select u.id, u.token_version, case when g > $2::int then now() end, case when g > $2::int then 'fixture' end
         from rolegate.users u, generate_series(1, $2::int + $3::int) g where u.id = $1
         returning id, revoked_at)
       insert into rolegate.refresh_tokens (token_hash, session_id, expires_at, revoked_at)
       select encode(sha256(convert_to(gen_random_uuid()::text, 'UTF8')), 'hex'), id, now() + interval '1 hour', revoked_at from s`,
      [accountUsers.holder.id, live, ended ? 1 : 0]);
  }

  async function holderLinks(): Promise<void> {
    const rows: Array<[string, string, string, number, boolean]> = [
      ['recovery', holderRow.email, 'live', 3600, false], ['recovery', holderRow.email, 'expired', -1, false], ['recovery', holderRow.email, 'used', 3600, true],
      ['signup', holderRow.email, 'live', 3600, false], ['email_change', 'pending@elsewhere.example', 'live', 3600, false],
    ].map(([purpose, email, , ttl, used]) => {
      const token = newEmailToken();
      emailTokens.add(token);
      return [emailTokenHash(token), purpose, email, ttl, used] as [string, string, string, number, boolean];
    });
    await sql.query(
      `insert into rolegate.email_tokens (token_hash, purpose, user_id, email, expires_at, used_at)
       select h, p, $1, e, now() + make_interval(secs => t), case when u then now() end
       from unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::boolean[]) as x(h, p, e, t, u)`,
      [accountUsers.holder.id, rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2]), rows.map((r) => r[3]), rows.map((r) => r[4])]);
  }

  /** The new address as the account function reads it, or undefined when it refuses it. */
  function addressAsked(fields: Record<string, unknown>): string | undefined {
    try {
      return requestedAddress(fields);
    } catch {
      return undefined;
    }
  }

  async function auditSince(id: number): Promise<Array<Record<string, unknown>>> {
    return (await sql.query('select event, user_id, session_id, ip, detail from rolegate.audit_log where id > $1 order by id', [id])).rows;
  }

  /** One failed login counted, as record_login_failure counts it: once for the holder's account key and once for the client's. */
  function checkLoginCounted(throttle: TableDiff | undefined, email: string, ip: string) {
    expect(throttle?.removed ?? []).toEqual([]);
    const keys = [...throttle?.added ?? [], ...(throttle?.changed ?? []).map((c) => c.after)].map((row) => String(row.key)).sort();
    expect(keys).toEqual([`account:${email}`, `ip:${ip}`].sort());
    for (const row of throttle?.added ?? []) expect(row.failures).toBe(1);
    for (const c of throttle?.changed ?? []) expect([Number(c.before.failures) + 1, 1]).toContain(c.after.failures);
  }

  /**
   * A password changed from the caller's live session: the holder's password_hash (the one
   * sent), token_version (one up) and updated_at, nothing else of it; every other session that
   * was live ended (password_changed) with its refresh tokens, the caller's kept, its
   * token_version following; the holder's unused recovery links retired, no other link (an
   * address change link may be retired too: see account-change.pending.ts). Returns how many
   * sessions ended.
   */
  function checkPasswordChangeTables(before: Snapshot, changes: Record<string, TableDiff>, event: HandlerEvent, callerSession: string): number {
    const holder = accountUsers.holder.id;
    expect(Object.keys(changes).filter((t) => !['users', 'sessions', 'refresh_tokens', 'email_tokens'].includes(t))).toEqual([]);
    const [row] = userRowsChanged(changes);
    expect([row!.before.id, row!.columns.sort()]).toEqual([holder, ['password_hash', 'token_version', 'updated_at']]);
    expect(row!.after.token_version).toBe(Number(row!.before.token_version) + 1);
    expect(bcrypt.compareSync(fieldsOf(event).password as string, String(row!.after.password_hash)), 'the password sent is the one set').toBe(true);
    const sessionsBefore = [...before.get('sessions')!.values()];
    const others = sessionsBefore.filter((s) => s.user_id === holder && s.id !== callerSession);
    const othersLive = others.filter((s) => s.revoked_at === null).map((s) => String(s.id)).sort();
    const sessions = changes.sessions ?? EMPTY_DIFF;
    expect(sessions.added.length + sessions.removed.length).toBe(0);
    const ended = sessions.changed.filter((c) => c.before.id !== callerSession);
    expect(ended.map((c) => String(c.before.id)).sort(), 'the other live sessions, and only those, end').toEqual(othersLive);
    for (const c of ended) expect([c.columns.sort(), c.after.revoked_reason]).toEqual([['revoked_at', 'revoked_reason'], 'password_changed']);
    const own = sessions.changed.find((c) => c.before.id === callerSession);
    expect(own?.columns, 'the caller\'s session goes on, its token_version following').toEqual(['token_version']);
    expect([own!.after.token_version, own!.after.revoked_at]).toEqual([row!.after.token_version, null]);
    const othersIds = new Set(others.map((s) => s.id));
    const liveTokens = [...before.get('refresh_tokens')!.values()].filter((t) => othersIds.has(t.session_id) && t.revoked_at === null).map((t) => String(t.id)).sort();
    const tokens = changes.refresh_tokens ?? EMPTY_DIFF;
    expect(tokens.added.length + tokens.removed.length).toBe(0);
    expect(tokens.changed.map((c) => String(c.before.id)).sort(), 'the other sessions\' refresh tokens, and only those, stop').toEqual(liveTokens);
    for (const c of tokens.changed) expect(c.columns).toEqual(['revoked_at']);
    const unused = [...before.get('email_tokens')!.values()].filter((t) => t.user_id === holder && t.used_at === null);
    const recovery = unused.filter((t) => t.purpose === 'recovery').map((t) => String(t.token_hash)).sort();
    const retirable = new Set(unused.filter((t) => t.purpose === 'recovery' || t.purpose === 'email_change').map((t) => t.token_hash));
    const links = changes.email_tokens ?? EMPTY_DIFF;
    expect(links.added.length + links.removed.length).toBe(0);
    for (const c of links.changed) {
      expect(c.columns).toEqual(['used_at']);
      expect(retirable.has(c.before.token_hash), `a ${String(c.before.purpose)} link retired by a new password`).toBe(true);
    }
    expect(links.changed.filter((c) => c.before.purpose === 'recovery').map((c) => String(c.before.token_hash)).sort(), 'every unused recovery link retired').toEqual(recovery);
    return othersLive.length;
  }

  /**
   * An address change asked for a free address: one email_change link to it (an older one
   * retired), the link mailed to it sealed, and a notice with no link to the old address.
   */
  function checkEmailChangeRequestTables(before: Snapshot, changes: Record<string, TableDiff>, address: string) {
    const holder = accountUsers.holder.id;
    expect(Object.keys(changes).sort()).toEqual(['email_tokens', 'mail_outbox']);
    const tokens = changes.email_tokens!;
    expect([tokens.added.length, tokens.removed.length]).toEqual([1, 0]);
    const token = tokens.added[0]!;
    expect(token).toMatchObject({ purpose: 'email_change', user_id: holder, email: address, used_at: null });
    const pending = [...before.get('email_tokens')!.values()].filter((t) => t.user_id === holder && t.purpose === 'email_change' && t.used_at === null).map((t) => String(t.token_hash)).sort();
    expect(tokens.changed.map((c) => String(c.before.token_hash)).sort(), 'only the older address change links are retired').toEqual(pending);
    for (const c of tokens.changed) expect(c.columns).toEqual(['used_at']);
    const mails = changes.mail_outbox!;
    expect([mails.changed.length, mails.removed.length, mails.added.length]).toEqual([0, 0, 2]);
    const link = mails.added.find((m) => m.template === 'email_change');
    const notice = mails.added.find((m) => m.template === 'email_change_notice');
    const variables = { email: holderRow.email, new_email: address };
    expect(link).toMatchObject({ recipient: address, sent_at: null, attempts: 0, variables });
    expect(notice).toMatchObject({ recipient: holderRow.email, sealed: null, sent_at: null, attempts: 0, variables });
    const sealed = JSON.parse(openMailSecret([new Secret(SECRET)], String(link!.sealed))!) as { url: string; token: string };
    emailTokens.add(sealed.token);
    expect(sha256(sealed.token)).toBe(token.token_hash);
    expect(sealed.url).toBe(`${SITE}/auth/verify?token=${sealed.token}`);
  }

  async function runAccountChangeCase(c: AccountChangeCase): Promise<void> {
    accountCounts.account.cases += 1;
    const holder = accountUsers.holder;
    await otherSessions(c.others, c.endedOther);
    if (c.links) await holderLinks();
    const { pairs, live, authorization: hostile } = await accountCookies(c.request, c.caller === 'none' ? undefined : holder, new Set());
    let authorization = hostile;
    let liveSessionId: string | undefined;
    if (c.caller !== 'none') {
      const session = await live();
      liveSessionId = session.sessionId;
      let { accessToken } = session;
      if (c.caller === 'ended') await store.revokeSession({ sessionId: session.sessionId, reason: 'fixture' });
      if (c.caller === 'stale') await sql.query('update rolegate.users set token_version = token_version + 1 where id = $1', [holder.id]);
      if (c.caller === 'disabled') await store.setUserDisabled(holder.id, true);
      if (c.caller === 'foreign-sid') {
        // Signed by us for the holder, naming the member's live session.
        const other = await liveSession(users.member);
        ({ token: accessToken } = await signAccessTokenWithJose({
          subject: { id: holder.id, email: holder.email, roles: holder.roles }, sessionId: other.sessionId,
          secret: deps.config.jwtSecret, issuer: deps.config.jwtIssuer, ttlSeconds: 900, now: deps.now(),
        }));
      }
      if (c.carrier === 'cookie') {
        pairs.unshift(`nf_jwt=${accessToken}`);
        authorization = undefined;
      } else if (c.carrier === 'bearer') {
        authorization = `Bearer ${accessToken}`;
      } else {
        pairs.push(`nf_jwt=${accessToken}`);
      }
    }
    const event = toEvent(c.request.method, '/.netlify/functions/account', c.request, pairs.join('; ') + c.request.cookieTail);
    if (authorization !== undefined) event.headers.authorization = authorization;
    const fields = fieldsOf(event);
    const address = addressAsked(fields);
    if (c.preThrottle !== 'none' && (c.preThrottle === 'login' || address)) {
      const [key, limit] = c.preThrottle === 'login' ? [`account:${holderRow.email}`, deps.config.loginMaxFailuresPerAccount] : [`mail:address:${address}`, 5];
      await sql.query(`insert into rolegate.login_throttle (key, window_started_at, failures) values ($1, now(), $2)
        on conflict (key) do update set window_started_at = now(), failures = $2`, [key, limit]);
    }
    // Who the handler will take the caller for: requireRole is pure (no store), so asking it here is asking the handler.
    const auth = await requireRole(event, { config: deps.config, now: deps.now() });
    const authedAsHolder = auth.ok && auth.user.id === holder.id;
    const callerSession = auth.ok ? auth.user.sessionId : undefined;
    const ip = clientIp(event);
    const auditBefore = Number((await sql.query('select coalesce(max(id), 0) as id from rolegate.audit_log')).rows[0].id);
    const { response, body, live: liveCookies, code, key, before, after, changes, throttle } = await sendAccountRequest('account', accountChange, event);
    const audit = await auditSince(auditBefore);
    expect(liveCookies.size, 'the account function sets no cookie').toBe(0);
    const action = fields.action;
    const rightPassword = fields.current_password === PASSWORD;
    const accepted = response.statusCode === 200 || response.statusCode === 202 || (response.statusCode === 303 && !code);
    if (response.statusCode === 303 && code === 'session_expired' && !auth.ok) {
      // A form with no session of ours goes to sign in, and comes back to the account page.
      expect(response.headers?.Location).toBe('/login?error=session_expired&next=%2Faccount');
    } else if (response.statusCode === 303) {
      expect(String(response.headers?.Location)).toMatch(/^\/account\?(done=(password|email|unlinked)|error=[a-z_]+)$/);
    }
    let what: string;
    const unlinksHolders = typeof fields.identity === 'string' && fields.identity.toLowerCase() === HOLDER_IDENTITY;
    if (accepted) {
      expect([c.caller, authedAsHolder, callerSession], 'accepted: the holder\'s live session').toEqual(['live', true, liveSessionId]);
      if (event.httpMethod === 'GET') {
        expect([response.statusCode, body]).toEqual([200, { identities: [holderIdentityListed()], providers: [] }]);
        expect(changes, 'a read changes nothing').toEqual({});
        expect(audit).toEqual([]);
        expect(throttle).toBeUndefined();
        what = '(linked providers read)';
      } else if (action === 'unlink') {
        // Only the holder's own identity goes, named in any case; the password the account keeps is its other way in.
        expect(unlinksHolders, 'unlinked: the holder\'s identity was named').toBe(true);
        if (response.statusCode === 303) expect(response.headers?.Location).toBe('/account?done=unlinked');
        else expect([response.statusCode, body]).toEqual([200, { ok: true }]);
        expect(Object.keys(changes)).toEqual(['identities']);
        expect([changes.identities!.removed.map((r) => r.id), changes.identities!.added, changes.identities!.changed]).toEqual([[HOLDER_IDENTITY], [], []]);
        expect(audit).toMatchObject([{ event: 'identity_unlinked', user_id: holder.id, session_id: callerSession, ip, detail: { provider: 'github' } }]);
        expect(audit).toHaveLength(1);
        expect(throttle, 'an unlink counts nowhere').toBeUndefined();
        what = '(provider unlinked)';
      } else if (action === 'password') {
        expect(rightPassword, 'accepted: the right current password').toBe(true);
        const ended = checkPasswordChangeTables(before, changes, event, callerSession!);
        if (response.statusCode === 303) expect(response.headers?.Location).toBe('/account?done=password');
        else expect([response.statusCode, body]).toEqual([200, { ok: true, sessions_ended: ended }]);
        expect(audit).toMatchObject([{ event: 'password_changed', user_id: holder.id, session_id: callerSession, ip, detail: { sessions_ended: ended } }]);
        expect(audit).toHaveLength(1);
        expect(throttle, 'a new password counts nowhere').toBeUndefined();
        what = ended === 0 ? '(password changed, no other session)' : '(password changed, others ended)';
      } else {
        expect(action).toBe('email');
        expect(rightPassword, 'accepted: the right current password').toBe(true);
        if (response.statusCode === 303) expect(response.headers?.Location).toBe('/account?done=email');
        else expect([response.statusCode, body]).toEqual([202, { ok: true, message: expect.any(String) }]);
        expect(address).toBeDefined();
        const owner = userByEmail(before, address!);
        if (owner) {
          // Another account's address: the same answer, and nothing written or mailed.
          expect(owner.id).not.toBe(holder.id);
          expect(changes, 'an address another account holds gets nothing').toEqual({});
          expect(audit).toEqual([]);
          what = '(address taken: nothing)';
        } else {
          checkEmailChangeRequestTables(before, changes, address!);
          expect(audit).toMatchObject([{ event: 'email_change_requested', user_id: holder.id, session_id: callerSession, ip }]);
          expect(audit).toHaveLength(1);
          what = '(link to the new address, notice to the old)';
        }
        checkCounted(throttle, { email: address!, sender: /^mail:ip:/ });
      }
    } else {
      expect(changes, `account answered ${key} and must change nothing`).toEqual({});
      // A session that is not live is refused before its password is checked, so it learns nothing about it.
      const liveCaller = c.caller === 'live';
      // The store is asked for an address change only for the holder's live session, the right current password and an address it takes.
      const storeAsked = !EARLY_CODES.includes(code!) && action === 'email' && authedAsHolder && liveCaller && rightPassword && address !== undefined && c.preThrottle !== 'login';
      if (code === 'not_found') {
        // An unlink naming no identity of the holder's: asked of the store only for the holder's live session.
        expect([event.httpMethod, action, authedAsHolder, liveCaller, unlinksHolders]).toEqual(['POST', 'unlink', true, true, false]);
        expect(throttle).toBeUndefined();
        expect(audit).toEqual([]);
        what = '(no such identity)';
      } else if (code === 'wrong_password') {
        // Counted like a failed login (record_login_failure: the two keys and its audit row), nothing else.
        expect([authedAsHolder, liveCaller, rightPassword]).toEqual([true, true, false]);
        checkLoginCounted(throttle, holderRow.email, ip);
        expect(audit).toEqual([{ event: 'login_failed', user_id: holder.id, session_id: null, ip, detail: {} }]);
        what = '(wrong password counted)';
      } else if (storeAsked) {
        // request_email_change counts the request first: an address change refused there counts for the address and the sender, and writes nothing else.
        expect(['throttled', 'bad_request']).toContain(code);
        if (code === 'bad_request') expect(address, 'refused by the store: the address is already the account\'s').toBe(holderRow.email);
        checkCounted(throttle, { email: address!, sender: /^mail:ip:/ });
        expect(audit).toEqual([]);
        what = `(store refused: ${code})`;
      } else {
        expect(throttle, `account answered ${key} and counts nowhere`).toBeUndefined();
        expect(audit, `account answered ${key} and audits nothing`).toEqual([]);
        if (code === 'throttled') expect([c.preThrottle, authedAsHolder]).toEqual(['login', true]);
        what = authedAsHolder && code === 'session_expired' ? '(session not live)' : `(${code ?? 'refused'})`;
      }
    }
    countOutcome('account', `(${c.caller}) ${what}`);
    // The login throttle's counts of a case go with it; the mail limits' window runs on, as for
    // sign-up (counters whose 2 s window is long over count nothing: they go too, to keep snapshots small).
    await sql.query(`delete from rolegate.login_throttle where key like 'account:%' or key like 'ip:%' or window_started_at < now() - interval '10 seconds'`);
    await endAccountCase(after, 'account');
  }

  function fuzzAccount<T>(kind: AccountKind, arb: () => fc.Arbitrary<T>, run: (input: T) => Promise<void>, reached: string[], runs = RUNS, examples: () => T[] = () => []) {
    it(`${kind}: ${runs} hostile requests, never a 5xx, a stack trace, an unknown code or a write a refusal explains`, async () => {
      const start = accountCounts[kind].cases;
      const started = Date.now();
      await fc.assert(fc.asyncProperty(arb(), run), { seed: SEED, numRuns: runs, examples: examples().map((e) => [e] as [T]) });
      const ran = accountCounts[kind].cases - start;
      console.log(`fuzz ${kind}: ${ran} cases in ${Date.now() - started} ms (seed ${SEED}); outcomes ${JSON.stringify(accountCounts[kind].outcomes)}`);
      expect(ran).toBeGreaterThanOrEqual(runs);
      // The success paths must be reached, and the refusals that matter.
      if (runs >= 500) expect(Object.keys(accountCounts[kind].outcomes)).toEqual(expect.arrayContaining(reached));
    }, 240_000);
  }

  // A form that asks for a link for an address of its own, so no mail limit's 2 s window (which
  // depends on how fast the cases before it ran) can refuse it: the form's accepted path runs every time.
  const formAsking = (kind: string) => (): RequestRecipe[] => [{
    ...emptyRecipe(), method: 'POST',
    body: { body: `email=${encodeURIComponent(`form-${kind}@fuzz.example`)}`, contentType: 'application/x-www-form-urlencoded', isBase64Encoded: false },
  }];
  fuzzAccount('recover', () => requestArb(known, { methods: ['POST'] }), (recipe) => runAccountCase('recover', recipe),
    ['POST 202', 'POST 303 /check-email', 'POST 400 bad_request', 'POST 403 bad_origin'], RUNS, formAsking('recover'));
  fuzzAccount('magic-link', () => requestArb(known, { methods: ['POST'] }), (recipe) => runAccountCase('magic-link', recipe),
    ['POST 202', 'POST 303 /check-email', 'POST 400 bad_request', 'POST 403 bad_origin'], RUNS, formAsking('magic-link'));
  fuzzAccount('verify', () => requestArb(known, { methods: ['GET', 'POST'], body: verifyBodyArb(), query: verifyQueryArb, cookies: verifyCookiesArb }), (recipe) => runAccountCase('verify', recipe),
    ['GET 303 /choose-password', 'GET 303 /confirm', 'POST 200', 'GET 400 link_invalid', 'GET 410 link_used', 'GET 410 link_expired', 'POST 422 weak_password',
      '(opened a signup-live link)', '(opened a invite-live link)', '(used a signup-live link)', '(used a invite-live link)',
      '(opened a change-live link)', '(used a change-live link)']);
  // Sign-up under every registration policy (open most often), from hostile clients.
  fuzzAccount('signup', () => fc.record({ policy: signupPolicyArb, request: requestArb(known, { methods: ['POST'], body: signupBodyArb(addresses) }) }), runSignupCase,
    ['POST 202', 'POST 303 /check-email', 'POST 200', 'POST 400 bad_request', 'POST 403 bad_origin', 'POST 403 signup_disabled', 'POST 403 email_not_allowed', 'POST 422 weak_password',
      '(new user)', '(notice to the owner)', '(new link for an unconfirmed sign-up)', '(signed in at once)', '(disabled: nothing)']);
  // Invitations with no session, a member's and an admin's, the token in a cookie or a header.
  fuzzAccount('invite', () => fc.record({
    inviter: fc.constantFrom<Inviter>('none', 'member', 'admin', 'admin', 'admin'),
    carrier: fc.constantFrom<Carrier>('cookie', 'cookie', 'cookie', 'bearer', 'bearer', 'hostile'),
    request: requestArb(known, { methods: ['POST'], body: inviteBodyArb(addresses), cookies: cookiesArb }),
  }), runInviteCase,
    ['POST 201', 'POST 200', 'POST 303 next', 'POST 400 bad_request', 'POST 401 unauthenticated', 'POST 403 forbidden', 'POST 403 bad_origin', 'POST 409 user_exists', '(invited)', '(resent)']);

  // The account function: no session, the holder's (live, ended, stale, disabled, another's session id), in a cookie or a header.
  fuzzAccount('account', () => fc.record({
    caller: fc.constantFrom<Caller>('none', 'live', 'live', 'live', 'live', 'live', 'ended', 'stale', 'disabled', 'foreign-sid'),
    carrier: fc.constantFrom<Carrier>('cookie', 'cookie', 'cookie', 'bearer', 'bearer', 'hostile'),
    others: fc.integer({ min: 0, max: 2 }),
    endedOther: fc.boolean(),
    links: fc.boolean(),
    preThrottle: fc.constantFrom<AccountChangeCase['preThrottle']>('none', 'none', 'none', 'none', 'none', 'none', 'none', 'none', 'login', 'mail'),
    request: requestArb(known, { methods: ['POST'], body: accountChangeBodyArb(accountFixture), cookies: cookiesArb }),
  }), runAccountChangeCase,
    ['POST 200', 'POST 202', 'POST 303 next', 'POST 400 bad_request', 'POST 401 unauthenticated', 'POST 401 session_expired', 'POST 403 bad_origin', 'POST 403 wrong_password', 'POST 422 weak_password', 'POST 429 throttled',
      '(live) (password changed, no other session)', '(live) (password changed, others ended)', '(live) (link to the new address, notice to the old)', '(live) (address taken: nothing)',
      '(live) (wrong password counted)', '(live) (linked providers read)', '(live) (provider unlinked)', '(live) (no such identity)', 'GET 200', 'POST 404 not_found', '(ended) (session not live)', '(stale) (session not live)', '(disabled) (session not live)', '(foreign-sid) (session not live)', '(live) (store refused: throttled)']);

  it('logged no secret and stored no raw refresh or email token during the whole run', async () => {
    expect(issuedTokens.size).toBeGreaterThan(100);
    const secrets = new Map<string, string>([['JWT_SECRET', SECRET], ['password', PASSWORD], ['password hash', passwordHash]]);
    for (const token of issuedTokens) secrets.set(`refresh token ${token.slice(0, 6)}…`, token);
    for (const token of emailTokens) secrets.set(`email token ${token.slice(0, 6)}…`, token);
    expect(leakedSecrets(logs.text(), secrets)).toEqual([]);
    expect(tokensIn(logs.text(), emailTokens), 'email tokens in the log').toEqual([]);
    expect(await rowCount(sql)).toBeGreaterThan(RUNS);
    expect(await rawTokensAtRest(sql, issuedTokens)).toEqual([]);
    expect(await rawTokensAtRest(sql, emailTokens)).toEqual([]);
  });
});
