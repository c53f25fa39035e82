/**
 * The one contract every Store adapter must meet. Each adapter's test file
 * calls describeStoreContract with a factory; the same assertions then run
 * against PGlite, real PostgreSQL and postgrest-js over PostgREST.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxMail, Store } from '../../src/store/store.js';
import type { IdentityUser } from '../../src/core/identity-user.js';

export interface ContractTarget {
  store: Store;
  /** Superuser SQL on the same database, for fixtures (moving clocks back) and for looking at rows. */
  query(text: string, values?: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

const FAKE_HASH = `$2b$10$${'N'.repeat(53)}`;
let emailCounter = 0;

export function uniqueEmail(prefix = 'user'): string {
  emailCounter += 1;
  return `${prefix}-${process.pid}-${emailCounter}-${randomBytes(3).toString('hex')}@example.com`;
}

/** A refresh token's stored form: SHA-256 hex of random bytes. */
export function tokenHash(): string {
  return createHash('sha256').update(randomBytes(32)).digest('hex');
}

export function describeStoreContract(name: string, open: () => Promise<ContractTarget>): void {
  describe(`Store contract: ${name}`, () => {
    let target: ContractTarget;
    let store: Store;

    beforeAll(async () => {
      target = await open();
      store = target.store;
    });
    afterAll(async () => {
      await target?.close();
    });

    async function newUser(roles: string[] = ['member']) {
      const result = await store.createUser({ email: uniqueEmail(), passwordHash: FAKE_HASH, roles });
      if (result.status !== 'created') throw new Error('fixture user not created');
      return result.user;
    }

    async function newSession(userId: string) {
      const first = tokenHash();
      const created = await store.createSession({ userId, refreshTokenHash: first, refreshTtlSeconds: 3600, userAgent: 'vitest', ip: '203.0.113.9' });
      if (created.status !== 'created') throw new Error('fixture session not created');
      return { sessionId: created.sessionId, first };
    }

    const rotate = (hash: string, successor: string, graceSeconds = 10) =>
      store.rotateRefreshToken({ tokenHash: hash, successorHash: successor, refreshTtlSeconds: 3600, graceSeconds });

    describe('users', () => {
      it('finds a created user by email in any letter case, and by id', async () => {
        const user = await newUser(['admin', 'member']);
        expect(user.roles).toEqual(['admin', 'member']);
        expect((await store.findUserByEmail(user.email.toUpperCase()))?.id).toBe(user.id);
        expect((await store.findUserById(user.id))?.email).toBe(user.email);
        expect(await store.findUserById('not-a-uuid')).toBeNull();
        expect(await store.findUserByEmail(uniqueEmail('nobody'))).toBeNull();
      });

      it('refuses a second account for the same email whatever its case', async () => {
        const user = await newUser();
        const again = await store.createUser({ email: ` ${user.email.toUpperCase()} `, passwordHash: FAKE_HASH });
        expect(again.status).toBe('email_taken');
      });

      it('hands out the password hash only on the login lookup', async () => {
        const user = await newUser();
        const forLogin = await store.findUserForLogin(user.email);
        expect(forLogin?.passwordHash).toBe(FAKE_HASH);
        expect(JSON.stringify(await store.findUserByEmail(user.email))).not.toContain(FAKE_HASH);
        expect(JSON.stringify(await store.listUsers({ limit: 1000 }))).not.toContain(FAKE_HASH);
      });

      it('rejects a password hash that is not bcrypt, writing nothing', async () => {
        const email = uniqueEmail();
        await expect(store.createUser({ email, passwordHash: 'plaintext-password' })).rejects.toThrow();
        expect(await store.findUserByEmail(email)).toBeNull();
      });

      it('lists users page by page', async () => {
        for (let i = 0; i < 3; i++) await newUser();
        const all = await store.listUsers({ limit: 1000 });
        expect(all.length).toBeGreaterThanOrEqual(3);
        const page = await store.listUsers({ limit: 2, offset: 1 });
        expect(page.map((u) => u.id)).toEqual(all.slice(1, 3).map((u) => u.id));
      });

      it('imports all rows or none, skipping emails that already exist', async () => {
        const existing = await newUser();
        const fresh = [uniqueEmail('imp'), uniqueEmail('imp')];
        const result = await store.importUsers([
          { email: fresh[0]!, passwordHash: `$2a$10$${'a'.repeat(53)}`, roles: ['member'] },
          { email: fresh[1]!, passwordHash: `$2y$10$${'b'.repeat(53)}`, roles: [], userMetadata: { full_name: 'B' } },
          { email: existing.email, passwordHash: FAKE_HASH, roles: ['admin'] },
        ]);
        expect(result).toEqual({ created: 2, skipped: 1 });
        expect((await store.findUserByEmail(existing.email))?.roles).toEqual(['member']);
        expect((await store.findUserByEmail(fresh[1]!))?.userMetadata).toEqual({ full_name: 'B' });

        const broken = uniqueEmail('imp');
        await expect(store.importUsers([
          { email: broken, passwordHash: FAKE_HASH },
          { email: uniqueEmail('imp'), passwordHash: 'not-bcrypt' },
        ])).rejects.toThrow();
        expect(await store.findUserByEmail(broken)).toBeNull();
      });

      it('keeps the id of an imported user so foreign keys elsewhere survive', async () => {
        const id = '0b7e7d2c-6f5a-4c43-9d1e-3b0a9f6e2a11';
        const email = uniqueEmail('keep-id');
        await store.importUsers([{ id, email, passwordHash: null }]);
        expect((await store.findUserById(id))?.email).toBe(email);
      });

      it('replaces a password hash at login only while it is still the one checked', async () => {
        const user = await newUser();
        const upgraded = `$2b$11$${'U'.repeat(53)}`;
        expect(await store.upgradePasswordHash({ userId: user.id, from: FAKE_HASH, to: upgraded })).toEqual({ status: 'updated' });
        expect((await store.findUserForLogin(user.email))?.passwordHash).toBe(upgraded);
        // Changed meanwhile (a password reset): left alone.
        expect(await store.upgradePasswordHash({ userId: user.id, from: FAKE_HASH, to: `$2b$11$${'V'.repeat(53)}` })).toEqual({ status: 'unchanged' });
        expect((await store.findUserForLogin(user.email))?.passwordHash).toBe(upgraded);
        expect(await store.upgradePasswordHash({ userId: randomUUID(), from: FAKE_HASH, to: upgraded })).toEqual({ status: 'unchanged' });
        expect(await store.upgradePasswordHash({ userId: 'nonsense', from: FAKE_HASH, to: upgraded })).toEqual({ status: 'unchanged' });
        // Not a password change: updated_at stays, the audit log says what happened.
        expect((await store.findUserById(user.id))?.updatedAt).toBe(user.updatedAt);
        const audit = await target.query(`select detail from rolegate.audit_log where event = 'password_rehashed' and user_id = $1`, [user.id]);
        expect(audit).toEqual([{ detail: { cost: 11 } }]);
      });

      it('gives a user without a password one only while it is still unset: a second first login or a password set meanwhile is kept', async () => {
        const id = randomUUID();
        const email = uniqueEmail('first-password');
        await store.importUsers([{ id, email, passwordHash: null }]);
        const hashes = Array.from({ length: 8 }, (_, i) => `$2b$10$${String.fromCharCode(65 + i).repeat(53)}`);
        // Eight first logins at once: exactly one sets it, the rest find it set.
        const answers = await Promise.all(hashes.map((passwordHash) => store.setFirstPassword({ userId: id, passwordHash })));
        expect(answers.filter((a) => a.status === 'updated')).toHaveLength(1);
        expect(answers.filter((a) => a.status === 'already_set')).toHaveLength(hashes.length - 1);
        const winner = hashes[answers.findIndex((a) => a.status === 'updated')];
        expect((await store.findUserForLogin(email))?.passwordHash).toBe(winner);
        const changed = await target.query(`select count(*)::int as n from rolegate.audit_log where event = 'password_changed' and user_id = $1`, [id]);
        expect(changed).toEqual([{ n: 1 }]);

        // A user who has a password (set by an admin, say) keeps it.
        const withPassword = await newUser();
        expect(await store.setFirstPassword({ userId: withPassword.id, passwordHash: hashes[0]! })).toEqual({ status: 'already_set' });
        expect((await store.findUserForLogin(withPassword.email))?.passwordHash).toBe(FAKE_HASH);
        expect(await store.setFirstPassword({ userId: randomUUID(), passwordHash: hashes[0]! })).toEqual({ status: 'not_found' });
        expect(await store.setFirstPassword({ userId: 'nonsense', passwordHash: hashes[0]! })).toEqual({ status: 'not_found' });
      });

      it('changes roles and reports an unknown user as not_found', async () => {
        const user = await newUser(['member']);
        const updated = await store.setUserRoles(user.id, ['admin']);
        expect(updated.status === 'updated' && updated.user.roles).toEqual(['admin']);
        expect((await store.setUserRoles('6f0e6c1e-0000-4000-8000-000000000000', ['x'])).status).toBe('not_found');
      });
    });

    describe('sessions and refresh tokens', () => {
      it('rotates a refresh token once and hands the session on to its successor', async () => {
        const user = await newUser(['member']);
        const { sessionId, first } = await newSession(user.id);
        const second = tokenHash();
        const result = await rotate(first, second);
        expect(result.status).toBe('rotated');
        if (result.status !== 'rotated') return;
        expect(result.sessionId).toBe(sessionId);
        expect(result.user.roles).toEqual(['member']);
        expect((await rotate(second, tokenHash())).status).toBe('rotated');
      });

      it('lets a repeat within the grace interval through when it asks for the same successor', async () => {
        const user = await newUser();
        const { first } = await newSession(user.id);
        const second = tokenHash();
        expect((await rotate(first, second)).status).toBe('rotated');
        expect((await rotate(first, second)).status).toBe('rotated');
        expect((await rotate(first, tokenHash())).status).toBe('conflict');
        const children = await target.query(
          'select count(*)::int as n from rolegate.refresh_tokens where parent_id = (select id from rolegate.refresh_tokens where token_hash = $1)', [first]);
        expect(children[0]?.n).toBe(1);
      });

      it('within the grace interval, answers only the client that rotated the token; another client is reuse', async () => {
        const user = await newUser();
        const { sessionId, first } = await newSession(user.id);
        const second = tokenHash();
        const as = (client: string | undefined) =>
          store.rotateRefreshToken({ tokenHash: first, successorHash: second, refreshTtlSeconds: 3600, graceSeconds: 10, client });
        expect((await as('client-a')).status).toBe('rotated');
        expect((await as('client-a')).status).toBe('rotated');
        // A caller that cannot tell who it serves is answered by the successor rule alone.
        expect((await as(undefined)).status).toBe('rotated');
        expect(await as('client-b')).toMatchObject({ status: 'reused', sessionId, userId: user.id });
        expect((await rotate(second, tokenHash())).status).toBe('revoked');
      });

      it('within the grace interval, a token whose successor was rotated too is reuse: no walking the chain', async () => {
        const user = await newUser();
        const { sessionId, first } = await newSession(user.id);
        const second = tokenHash();
        const third = tokenHash();
        expect((await rotate(first, second)).status).toBe('rotated');
        expect((await rotate(second, third)).status).toBe('rotated');
        expect(await rotate(first, second)).toMatchObject({ status: 'reused', sessionId });
        expect((await rotate(third, tokenHash())).status).toBe('revoked');
        const audit = await target.query(`select detail from rolegate.audit_log where event = 'refresh_token_reused' and session_id = $1`, [sessionId]);
        expect(audit).toEqual([{ detail: expect.objectContaining({ within_grace: true }) }]);
      });

      it('treats a rotated token presented after the grace interval as theft and ends the session', async () => {
        const user = await newUser();
        const { sessionId, first } = await newSession(user.id);
        const second = tokenHash();
        await rotate(first, second);
        // Move the first use an hour into the past instead of sleeping.
        await target.query(`update rolegate.refresh_tokens set used_at = used_at - interval '1 hour' where token_hash = $1`, [first]);
        const reuse = await rotate(first, second);
        expect(reuse).toMatchObject({ status: 'reused', sessionId, userId: user.id });
        // The legitimate successor dies with the session.
        expect((await rotate(second, tokenHash())).status).toBe('revoked');
        const session = await target.query('select revoked_at, revoked_reason from rolegate.sessions where id = $1', [sessionId]);
        expect(session[0]?.revoked_reason).toBe('refresh_token_reused');
        const audit = await target.query(`select count(*)::int as n from rolegate.audit_log where event = 'refresh_token_reused' and session_id = $1`, [sessionId]);
        expect(audit[0]?.n).toBe(1);
      });

      it('refuses an expired refresh token and an unknown one', async () => {
        const user = await newUser();
        const { first } = await newSession(user.id);
        await target.query(`update rolegate.refresh_tokens set expires_at = now() - interval '1 second' where token_hash = $1`, [first]);
        expect((await rotate(first, tokenHash())).status).toBe('expired');
        expect((await rotate(tokenHash(), tokenHash())).status).toBe('not_found');
      });

      it('picks up a role change at the next rotation', async () => {
        const user = await newUser(['member']);
        const { first } = await newSession(user.id);
        await store.setUserRoles(user.id, ['member', 'admin']);
        const result = await rotate(first, tokenHash());
        expect(result.status === 'rotated' && result.user.roles).toEqual(['member', 'admin']);
      });

      it('cuts a disabled user off at the next rotation and refuses new sessions', async () => {
        const user = await newUser();
        const { first } = await newSession(user.id);
        await store.setUserDisabled(user.id, true);
        expect((await rotate(first, tokenHash())).status).toBe('revoked');
        const again = await store.createSession({ userId: user.id, refreshTokenHash: tokenHash(), refreshTtlSeconds: 60 });
        expect(again.status).toBe('user_unavailable');
        await store.setUserDisabled(user.id, false);
        expect((await store.createSession({ userId: user.id, refreshTokenHash: tokenHash(), refreshTtlSeconds: 60 })).status).toBe('created');
      });

      it('revoke-sessions ends every session of the user, and only that user', async () => {
        const user = await newUser();
        const other = await newUser();
        const a = await newSession(user.id);
        const b = await newSession(user.id);
        const c = await newSession(other.id);
        expect(await store.revokeUserSessions(user.id)).toEqual({ status: 'revoked', sessions: 2 });
        expect((await rotate(a.first, tokenHash())).status).toBe('revoked');
        expect((await rotate(b.first, tokenHash())).status).toBe('revoked');
        expect((await rotate(c.first, tokenHash())).status).toBe('rotated');
        // A session created before the bump but never revoked row-wise is still refused by token_version.
        expect((await store.findUserById(user.id))?.tokenVersion).toBe(1);
      });

      it('signs out everywhere only from a live session of that user, changing nothing otherwise', async () => {
        const user = await newUser();
        const other = await newUser();
        const dead = await newSession(user.id);
        await store.revokeSession({ sessionId: dead.sessionId });
        const live = await newSession(user.id);
        const foreign = await newSession(other.id);
        // A revoked session, another user's session, a made-up id: refused, and every live session goes on.
        expect(await store.revokeSessionsEverywhere({ sessionId: dead.sessionId, userId: user.id })).toEqual({ status: 'not_live' });
        expect(await store.revokeSessionsEverywhere({ sessionId: foreign.sessionId, userId: user.id })).toEqual({ status: 'not_live' });
        expect(await store.revokeSessionsEverywhere({ sessionId: randomUUID(), userId: user.id })).toEqual({ status: 'not_live' });
        expect(await store.revokeSessionsEverywhere({ sessionId: 'nonsense', userId: user.id })).toEqual({ status: 'not_live' });
        expect((await store.findUserById(user.id))?.tokenVersion).toBe(0);
        const next = tokenHash();
        expect((await rotate(live.first, next)).status).toBe('rotated');
        // From the live one: every session of the user ends, the other user's goes on.
        expect(await store.revokeSessionsEverywhere({ sessionId: live.sessionId, userId: user.id })).toEqual({ status: 'revoked', sessions: 1 });
        expect((await rotate(next, tokenHash())).status).toBe('revoked');
        expect((await rotate(foreign.first, tokenHash())).status).toBe('rotated');
        // Ended everywhere already: that session proves nothing any more.
        expect(await store.revokeSessionsEverywhere({ sessionId: live.sessionId, userId: user.id })).toEqual({ status: 'not_live' });
        expect((await store.findUserById(user.id))?.tokenVersion).toBe(1);
      });

      it('does not sign out everywhere from a session that a revoke-sessions ended by token_version alone', async () => {
        const user = await newUser();
        const a = await newSession(user.id);
        await target.query('update rolegate.users set token_version = token_version + 1 where id = $1', [user.id]);
        expect(await store.revokeSessionsEverywhere({ sessionId: a.sessionId, userId: user.id })).toEqual({ status: 'not_live' });
      });

      it('logs out one session by its refresh token, leaving the others', async () => {
        const user = await newUser();
        const a = await newSession(user.id);
        const b = await newSession(user.id);
        expect(await store.revokeSession({ refreshTokenHash: a.first })).toMatchObject({ status: 'revoked', sessionId: a.sessionId, userId: user.id });
        expect((await rotate(a.first, tokenHash())).status).toBe('revoked');
        expect((await rotate(b.first, tokenHash())).status).toBe('rotated');
        expect((await store.revokeSession({ sessionId: b.sessionId })).status).toBe('revoked');
        expect((await store.revokeSession({ refreshTokenHash: tokenHash() })).status).toBe('not_found');
        expect((await store.revokeSession({ sessionId: 'nonsense' })).status).toBe('not_found');
      });

      it('stores only SHA-256 hashes of refresh tokens, never a raw token', async () => {
        const user = await newUser();
        const raw = randomBytes(32).toString('base64url');
        await expect(store.createSession({ userId: user.id, refreshTokenHash: raw, refreshTtlSeconds: 60 })).rejects.toThrow();
        const rows = await target.query('select token_hash from rolegate.refresh_tokens');
        expect(rows.length).toBeGreaterThan(0);
        for (const row of rows) expect(String(row.token_hash)).toMatch(/^[0-9a-f]{64}$/);
      });

      it('gives exactly one successor when 20 callers rotate the same token at once', async () => {
        const user = await newUser();
        const { first } = await newSession(user.id);
        const successor = tokenHash();
        const results = await Promise.all(Array.from({ length: 20 }, () => rotate(first, successor)));
        expect(results.map((r) => r.status)).toEqual(Array(20).fill('rotated'));
        const children = await target.query(
          'select count(*)::int as n from rolegate.refresh_tokens where parent_id = (select id from rolegate.refresh_tokens where token_hash = $1)', [first]);
        expect(children[0]?.n).toBe(1);
        const reused = await target.query(`select count(*)::int as n from rolegate.audit_log where event = 'refresh_token_reused' and user_id = $1`, [user.id]);
        expect(reused[0]?.n).toBe(0);
      });
    });

    describe('login throttling', () => {
      const window = 900;

      it('throttles an account after its limit of failures, with a Retry-After inside the window', async () => {
        const key = `account:${uniqueEmail()}`;
        const keys = [{ key, maxFailures: 3 }];
        expect((await store.recordLoginFailure({ keys, windowSeconds: window })).throttled).toBe(false);
        expect((await store.recordLoginFailure({ keys, windowSeconds: window })).throttled).toBe(false);
        const third = await store.recordLoginFailure({ keys, windowSeconds: window });
        expect(third.throttled).toBe(true);
        expect(third.retryAfterSeconds).toBeGreaterThan(0);
        expect(third.retryAfterSeconds).toBeLessThanOrEqual(window);
        expect(await store.loginThrottleStatus({ keys, windowSeconds: window })).toMatchObject({ throttled: true });
      });

      it('throttles when any one key is over its limit (account or IP)', async () => {
        const account = { key: `account:${uniqueEmail()}`, maxFailures: 100 };
        const ip = { key: `ip:198.51.100.${Math.floor(Math.random() * 250)}-${randomBytes(2).toString('hex')}`, maxFailures: 2 };
        await store.recordLoginFailure({ keys: [account, ip], windowSeconds: window });
        const second = await store.recordLoginFailure({ keys: [account, ip], windowSeconds: window });
        expect(second.throttled).toBe(true);
        expect((await store.loginThrottleStatus({ keys: [account], windowSeconds: window })).throttled).toBe(false);
      });

      it('forgets failures once the window has passed', async () => {
        const key = `account:${uniqueEmail()}`;
        const keys = [{ key, maxFailures: 2 }];
        await store.recordLoginFailure({ keys, windowSeconds: window });
        await store.recordLoginFailure({ keys, windowSeconds: window });
        await target.query(`update rolegate.login_throttle set window_started_at = now() - interval '1 hour' where key = $1`, [key]);
        expect(await store.loginThrottleStatus({ keys, windowSeconds: window })).toEqual({ throttled: false, retryAfterSeconds: 0 });
        expect((await store.recordLoginFailure({ keys, windowSeconds: window })).throttled).toBe(false);
        const rows = await target.query('select failures from rolegate.login_throttle where key = $1', [key]);
        expect(rows[0]?.failures).toBe(1);
      });

      it('answers the longest wait among the keys past their own limits, and ignores a key whose window closed', async () => {
        const [late, early, closed, under] = ['late', 'early', 'closed', 'under'].map((name) => `account:${uniqueEmail(name)}`) as [string, string, string, string];
        await target.query(
          `insert into rolegate.login_throttle (key, window_started_at, failures) values
             ($1, now() - interval '100 seconds', 3), ($2, now() - interval '600 seconds', 3),
             ($3, now() - interval '2000 seconds', 50), ($4, now(), 2)`, [late, early, closed, under]);
        const limits = (n: number, ...keys: string[]) => keys.map((key) => ({ key, maxFailures: n }));
        // late's window closes in 800 s, early's in 300 s: the answer is the later one, in either order.
        for (const keys of [limits(3, early, late), limits(3, late, early)]) {
          const both = await store.loginThrottleStatus({ keys, windowSeconds: window });
          expect(both).toEqual({ throttled: true, retryAfterSeconds: expect.any(Number) });
          if (both.throttled) expect([799, 800, 801]).toContain(both.retryAfterSeconds);
        }
        expect(await store.loginThrottleStatus({ keys: [...limits(3, closed), ...limits(3, under)], windowSeconds: window })).toEqual({ throttled: false, retryAfterSeconds: 0 });
        // Each key is held to its own limit: under has 2 failures, past a limit of 2 and not of 3.
        expect((await store.loginThrottleStatus({ keys: [...limits(3, closed), ...limits(2, under)], windowSeconds: window })).throttled).toBe(true);
        expect((await store.loginThrottleStatus({ keys: limits(3, under), windowSeconds: window })).throttled).toBe(false);
        expect(await store.loginThrottleStatus({ keys: [], windowSeconds: window })).toEqual({ throttled: false, retryAfterSeconds: 0 });
      });

      it('clears the account key on a successful login', async () => {
        const user = await newUser();
        const key = `account:${user.email}`;
        const keys = [{ key, maxFailures: 1 }];
        await store.recordLoginFailure({ keys, windowSeconds: window });
        expect((await store.loginThrottleStatus({ keys, windowSeconds: window })).throttled).toBe(true);
        await store.createSession({ userId: user.id, refreshTokenHash: tokenHash(), refreshTtlSeconds: 60, clearThrottleKeys: [key] });
        expect((await store.loginThrottleStatus({ keys, windowSeconds: window })).throttled).toBe(false);
      });

      it('begins a sign-in with the throttle and the account in one call, reading no account while throttled', async () => {
        const user = await newUser();
        const keys = [{ key: `account:${user.email}`, maxFailures: 2 }];
        const open = await store.beginLogin({ email: user.email.toUpperCase(), keys, windowSeconds: window });
        expect(open).toEqual({ throttled: false, user: { ...user, passwordHash: FAKE_HASH } });
        expect(await store.beginLogin({ email: uniqueEmail('nobody'), keys, windowSeconds: window })).toEqual({ throttled: false, user: null });
        await store.recordLoginFailure({ keys, windowSeconds: window });
        await store.recordLoginFailure({ keys, windowSeconds: window });
        const shut = await store.beginLogin({ email: user.email, keys, windowSeconds: window });
        expect(shut).toEqual({ throttled: true, retryAfterSeconds: expect.any(Number) });
        if (shut.throttled) expect(shut.retryAfterSeconds).toBeGreaterThan(0);
      });

      it('starts no session while a key given to createSession is past its limit, writing nothing', async () => {
        const user = await newUser();
        const key = `account:${user.email}`;
        const throttle = { keys: [{ key, maxFailures: 1 }], windowSeconds: window };
        await store.recordLoginFailure(throttle);
        const hash = tokenHash();
        const refused = await store.createSession({ userId: user.id, refreshTokenHash: hash, refreshTtlSeconds: 60, clearThrottleKeys: [key], refuseIfThrottled: throttle });
        expect(refused).toEqual({ status: 'throttled', retryAfterSeconds: expect.any(Number) });
        expect(await target.query('select 1 from rolegate.refresh_tokens where token_hash = $1', [hash])).toEqual([]);
        expect(await target.query('select 1 from rolegate.sessions where user_id = $1', [user.id])).toEqual([]);
        expect((await store.loginThrottleStatus(throttle)).throttled).toBe(true);
        // Under the limit, the same call starts the session and clears the key.
        const roomy = { keys: [{ key, maxFailures: 5 }], windowSeconds: window };
        expect((await store.createSession({ userId: user.id, refreshTokenHash: hash, refreshTtlSeconds: 60, clearThrottleKeys: [key], refuseIfThrottled: roomy })).status).toBe('created');
        expect((await store.loginThrottleStatus(throttle)).throttled).toBe(false);
      });

      it('counts parallel failures without losing any', async () => {
        const key = `account:${uniqueEmail()}`;
        const keys = [{ key, maxFailures: 1000 }];
        await Promise.all(Array.from({ length: 25 }, () => store.recordLoginFailure({ keys, windowSeconds: window })));
        const rows = await target.query('select failures from rolegate.login_throttle where key = $1', [key]);
        expect(rows[0]?.failures).toBe(25);
      });
    });

    describe('audit log', () => {
      it('records login successes, failures and explicit entries', async () => {
        const user = await newUser();
        const { sessionId } = await newSession(user.id);
        await store.recordLoginFailure({ keys: [{ key: `account:${user.email}`, maxFailures: 5 }], windowSeconds: 60, userId: user.id, ip: '192.0.2.1' });
        await store.audit({ event: 'logout', userId: user.id, sessionId, detail: { scope: 'local' } });
        const rows = await target.query('select event, detail from rolegate.audit_log where user_id = $1 order by id', [user.id]);
        expect(rows.map((r) => r.event)).toEqual(['user_created', 'login_succeeded', 'login_failed', 'logout']);
        expect(rows[3]?.detail).toEqual({ scope: 'local' });
      });
    });

    describe('emailed tokens and the mail outbox', () => {
      const window = 3600;
      const request = (email: string, hash = tokenHash(), limits = { address: 100, ip: 1000 }, ip = '198.51.100.4') =>
        store.requestAccountMail({
          purpose: 'recovery', email, tokenHash: hash, ttlSeconds: 3600, sealed: `v1.sealed-${hash.slice(0, 8)}`, ip,
          throttle: { windowSeconds: window, keys: [{ key: `mail:address:${email}`, maxFailures: limits.address }, { key: `mail:ip:${ip}`, maxFailures: limits.ip }] },
        });
      const reset = (hash: string, password = `$2b$10$${'R'.repeat(53)}`) =>
        store.resetPasswordWithToken({ tokenHash: hash, passwordHash: password, refreshTokenHash: tokenHash(), refreshTtlSeconds: 3600, userAgent: 'vitest', ip: '198.51.100.4' });
      const outboxOf = (email: string) => target.query('select * from rolegate.mail_outbox where recipient = $1 order by id', [email]);

      it('queues a token and its mail together for an enabled user, and nothing for an unknown or disabled address', async () => {
        const user = await newUser();
        const hash = tokenHash();
        expect(await request(user.email.toUpperCase(), hash)).toEqual({ status: 'queued' });
        const tokens = await target.query('select * from rolegate.email_tokens where user_id = $1', [user.id]);
        expect(tokens).toMatchObject([{ token_hash: hash, purpose: 'recovery', email: user.email, used_at: null }]);
        expect(await outboxOf(user.email)).toMatchObject([{ template: 'recovery', sealed: `v1.sealed-${hash.slice(0, 8)}`, sent_at: null }]);

        const unknown = uniqueEmail('nobody');
        expect(await request(unknown)).toEqual({ status: 'no_account' });
        expect(await outboxOf(unknown)).toEqual([]);

        const disabled = await newUser();
        await store.setUserDisabled(disabled.id, true);
        expect(await request(disabled.email)).toEqual({ status: 'no_account' });
        expect(await outboxOf(disabled.email)).toEqual([]);
      });

      it('keeps only the newest link of a purpose working', async () => {
        const user = await newUser();
        const first = tokenHash();
        const second = tokenHash();
        await request(user.email, first);
        await request(user.email, second);
        expect(await store.emailTokenStatus(first)).toMatchObject({ status: 'used' });
        expect(await store.emailTokenStatus(second)).toEqual({ status: 'valid', purpose: 'recovery', email: user.email });
        expect(await reset(first)).toEqual({ status: 'used' });
      });

      it('counts requests per address for known and unknown addresses alike, past the limit answering throttled', async () => {
        const user = await newUser();
        const unknown = uniqueEmail('nobody');
        for (const email of [user.email, unknown]) {
          expect((await request(email, tokenHash(), { address: 2, ip: 1000 })).status).not.toBe('throttled');
          expect((await request(email, tokenHash(), { address: 2, ip: 1000 })).status).not.toBe('throttled');
          const third = await request(email, tokenHash(), { address: 2, ip: 1000 });
          expect(third).toEqual({ status: 'throttled', retryAfterSeconds: expect.any(Number) });
          expect((third as { retryAfterSeconds: number }).retryAfterSeconds).toBeGreaterThan(window - 60);
        }
        expect(await outboxOf(user.email)).toHaveLength(2);
      });

      it('resets the password with a valid token: one new session, every other one ended, the token used', async () => {
        const user = await newUser();
        const before = await newSession(user.id);
        const hash = tokenHash();
        await request(user.email, hash);
        const password = `$2b$10$${'P'.repeat(53)}`;
        const result = await reset(hash, password);
        expect(result).toMatchObject({ status: 'reset', user: { id: user.id, email: user.email } });
        expect((await store.findUserForLogin(user.email))?.passwordHash).toBe(password);
        expect((await rotate(before.first, tokenHash())).status).toBe('revoked');
        const sessions = await target.query('select id from rolegate.sessions where user_id = $1 and revoked_at is null', [user.id]);
        expect(sessions.map((r) => r.id)).toEqual([(result as { sessionId: string }).sessionId]);
        expect(await store.emailTokenStatus(hash)).toMatchObject({ status: 'used' });
        expect(await reset(hash)).toEqual({ status: 'used' });
      });

      it('lets exactly one of many concurrent uses of a link through', async () => {
        const user = await newUser();
        const hash = tokenHash();
        await request(user.email, hash);
        const results = await Promise.all(Array.from({ length: 8 }, () => reset(hash)));
        expect(results.filter((r) => r.status === 'reset')).toHaveLength(1);
        expect(results.filter((r) => r.status === 'used')).toHaveLength(7);
      });

      it('refuses an expired, an unknown and a disabled user\'s token, changing no password', async () => {
        const user = await newUser();
        const hash = tokenHash();
        await request(user.email, hash);
        await target.query(`update rolegate.email_tokens set expires_at = now() - interval '1 second' where token_hash = $1`, [hash]);
        expect(await store.emailTokenStatus(hash)).toMatchObject({ status: 'expired' });
        expect(await reset(hash)).toEqual({ status: 'expired' });
        expect(await reset(tokenHash())).toEqual({ status: 'not_found' });
        expect(await store.emailTokenStatus(tokenHash())).toEqual({ status: 'not_found' });

        const later = await newUser();
        const laterHash = tokenHash();
        await request(later.email, laterHash);
        await store.setUserDisabled(later.id, true);
        expect(await reset(laterHash)).toEqual({ status: 'user_unavailable' });
        expect((await store.findUserForLogin(later.email))?.passwordHash).toBe(FAKE_HASH);
        expect((await store.findUserForLogin(user.email))?.passwordHash).toBe(FAKE_HASH);
      });

      it('leases due mail to one deliverer, retries a failure after its backoff, and never hands out a sent one', async () => {
        const user = await newUser();
        await request(user.email);
        const mine = (mails: OutboxMail[]) => mails.filter((m) => m.recipient === user.email);
        const [first, second] = await Promise.all([store.claimMail({ limit: 100, leaseSeconds: 60 }), store.claimMail({ limit: 100, leaseSeconds: 60 })]);
        expect(mine([...first, ...second])).toHaveLength(1);
        const claimed = mine([...first, ...second])[0]!;
        expect(claimed).toMatchObject({ template: 'recovery', attempts: 1, sentAt: null });
        expect(claimed.sealed).toMatch(/^v1\./);
        expect(mine(await store.claimMail({ limit: 100, leaseSeconds: 60 }))).toEqual([]);

        await store.finishMail({ id: claimed.id, sent: false, error: 'connection refused', retrySeconds: 300 });
        expect(mine(await store.claimMail({ limit: 100, leaseSeconds: 60 }))).toEqual([]);
        const [listed] = mine(await store.listMail({ state: 'pending', limit: 1000 }));
        expect(listed).toMatchObject({ id: claimed.id, lastError: 'connection refused', sealed: null });

        await target.query(`update rolegate.mail_outbox set next_attempt_at = now() where id = $1`, [claimed.id]);
        const again = mine(await store.claimMail({ limit: 100, leaseSeconds: 60 }));
        expect(again).toMatchObject([{ id: claimed.id, attempts: 2 }]);
        await store.finishMail({ id: claimed.id, sent: true });
        await target.query(`update rolegate.mail_outbox set next_attempt_at = now() where id = $1`, [claimed.id]);
        expect(mine(await store.claimMail({ limit: 100, leaseSeconds: 60 }))).toEqual([]);
        expect(mine(await store.listMail({ state: 'sent', limit: 1000 }))).toMatchObject([{ id: claimed.id, lastError: null }]);
        expect(await store.retryMail(claimed.id)).toEqual({ mails: 0 });
      });

      it('stops retrying a mail the server refused for good until it is retried by hand', async () => {
        const user = await newUser();
        await request(user.email);
        const claimed = (await store.claimMail({ limit: 100, leaseSeconds: 60 })).filter((m) => m.recipient === user.email);
        expect(claimed).toHaveLength(1);
        await store.finishMail({ id: claimed[0]!.id, sent: false, error: '550 no such mailbox', permanent: true });
        await target.query(`update rolegate.mail_outbox set next_attempt_at = now() where id = $1`, [claimed[0]!.id]);
        expect((await store.claimMail({ limit: 100, leaseSeconds: 60 })).filter((m) => m.recipient === user.email)).toEqual([]);
        expect((await store.listMail({ state: 'failed', limit: 1000 })).filter((m) => m.recipient === user.email)).toHaveLength(1);
        expect(await store.retryMail(claimed[0]!.id)).toEqual({ mails: 1 });
        expect((await store.claimMail({ limit: 100, leaseSeconds: 60 })).filter((m) => m.recipient === user.email)).toHaveLength(1);
      });
    });

    describe('sign-up, invitations and links that sign in', () => {
      const throttle = (email: string, limit = 100) => ({ windowSeconds: 3600, keys: [{ key: `mail:address:${email}`, maxFailures: limit }] });
      const signup = (email: string, options: { hash?: string; password?: string; confirmed?: boolean; limit?: number } = {}) =>
        store.requestSignup({
          email, passwordHash: options.password ?? FAKE_HASH, roles: ['member'], confirmed: options.confirmed ?? false,
          tokenHash: options.hash ?? tokenHash(), ttlSeconds: 3600, sealed: 'v1.sealed', throttle: throttle(email, options.limit), ip: '198.51.100.9',
        });
      const signIn = (hash: string) =>
        store.signInWithToken({ tokenHash: hash, purposes: ['signup'], refreshTokenHash: tokenHash(), refreshTtlSeconds: 3600, userAgent: 'vitest', ip: '198.51.100.9' });
      const invite = (email: string, hash = tokenHash(), roles = ['editor']) =>
        store.inviteUser({ email, roles, tokenHash: hash, ttlSeconds: 3600, sealed: 'v1.sealed', throttle: throttle(email) });
      const outboxOf = (email: string) => target.query('select template, sealed from rolegate.mail_outbox where recipient = $1 order by id', [email]);

      it('makes an unconfirmed user, its token and its mail together; the link confirms, signs in once, and only once', async () => {
        const email = uniqueEmail('signup');
        const hash = tokenHash();
        expect(await signup(email, { hash })).toEqual({ status: 'queued' });
        expect(await store.findUserByEmail(email)).toMatchObject({ roles: ['member'], emailConfirmedAt: null });
        expect(await outboxOf(email)).toEqual([{ template: 'signup', sealed: 'v1.sealed' }]);
        const results = await Promise.all([signIn(hash), signIn(hash), signIn(hash)]);
        expect(results.filter((r) => r.status === 'signed_in')).toHaveLength(1);
        expect(results.filter((r) => r.status === 'used')).toHaveLength(2);
        expect((await store.findUserByEmail(email))?.emailConfirmedAt).toEqual(expect.any(String));
        const sessions = await target.query('select s.id from rolegate.sessions s join rolegate.users u on u.id = s.user_id where u.email = $1', [email]);
        expect(sessions).toHaveLength(1);
      });

      it('changes nothing of an existing account and mails its owner a notice without a link', async () => {
        const user = await newUser();
        const before = await store.findUserForLogin(user.email);
        expect(await signup(user.email, { password: `$2b$10$${'N'.repeat(53)}` })).toEqual({ status: 'exists' });
        expect(await store.findUserForLogin(user.email)).toEqual(before);
        expect(await outboxOf(user.email)).toEqual([{ template: 'signup_existing', sealed: null }]);
        const disabled = await newUser();
        await store.setUserDisabled(disabled.id, true);
        expect(await signup(disabled.email)).toEqual({ status: 'exists' });
        expect(await outboxOf(disabled.email)).toEqual([]);
      });

      it('without confirmation asked, makes a confirmed user, but never takes over one waiting for its confirmation', async () => {
        const email = uniqueEmail('instant');
        const created = await signup(email, { confirmed: true });
        expect(created).toMatchObject({ status: 'created', user: { email, roles: ['member'], emailConfirmedAt: expect.any(String) } });
        const pending = uniqueEmail('pending');
        await signup(pending);
        expect(await signup(pending, { confirmed: true, password: `$2b$10$${'T'.repeat(53)}` })).toEqual({ status: 'exists' });
        expect((await store.findUserForLogin(pending))?.passwordHash).toBe(FAKE_HASH);
      });

      it('throttles sign-ups per address before anything is written', async () => {
        const email = uniqueEmail('bomb');
        expect((await signup(email, { limit: 1 })).status).toBe('queued');
        expect(await signup(email, { limit: 1 })).toEqual({ status: 'throttled', retryAfterSeconds: expect.any(Number) });
        expect(await outboxOf(email)).toHaveLength(1);
      });

      it('refuses a link of another purpose, an unknown one and an expired one', async () => {
        const user = await newUser();
        const recovery = tokenHash();
        await store.requestAccountMail({ purpose: 'recovery', email: user.email, tokenHash: recovery, ttlSeconds: 3600, sealed: 'v1.x', throttle: throttle(user.email) });
        expect(await signIn(recovery)).toEqual({ status: 'wrong_purpose' });
        expect(await store.emailTokenStatus(recovery)).toMatchObject({ status: 'valid' });
        expect(await signIn(tokenHash())).toEqual({ status: 'not_found' });
        const email = uniqueEmail('late');
        const hash = tokenHash();
        await signup(email, { hash });
        await target.query(`update rolegate.email_tokens set expires_at = now() - interval '1 second' where token_hash = $1`, [hash]);
        expect(await signIn(hash)).toEqual({ status: 'expired' });
        expect((await store.findUserByEmail(email))?.emailConfirmedAt).toBeNull();
      });

      it('takes an invitation from an admin only while their session is live', async () => {
        const admin = await newUser();
        const { sessionId } = await newSession(admin.id);
        const email = uniqueEmail('by-admin');
        const invited = await store.inviteUser({ email, roles: [], tokenHash: tokenHash(), ttlSeconds: 3600, sealed: 'v1.sealed', throttle: throttle(email), invitedBy: admin.id, inviterSessionId: sessionId });
        expect(invited.status).toBe('invited');
        await store.revokeSession({ sessionId });
        const later = uniqueEmail('by-admin-later');
        expect(await store.inviteUser({ email: later, roles: [], tokenHash: tokenHash(), ttlSeconds: 3600, sealed: 'v1.sealed', throttle: throttle(later), invitedBy: admin.id, inviterSessionId: sessionId })).toEqual({ status: 'not_live' });
        expect(await store.findUserByEmail(later)).toBeNull();
      });

      it('lists the enabled users without a password, by address, page by page', async () => {
        const prefix = `pending-${Date.now()}`;
        const pending = [`${prefix}-b@example.com`, `${prefix}-a@example.com`];
        for (const email of pending) await invite(email);
        const disabled = `${prefix}-c@example.com`;
        const { user } = (await invite(disabled)) as { user: { id: string } };
        await store.setUserDisabled(user.id, true);
        await newUser();
        const mine = (users: Array<{ email: string }>) => users.map((u) => u.email).filter((e) => e.startsWith(prefix));
        const all = [];
        for (let page = await store.listUsersWithoutPassword({ limit: 1 }); page.length; page = await store.listUsersWithoutPassword({ limit: 1, afterEmail: page.at(-1)!.email })) all.push(...page);
        expect(mine(all)).toEqual([...pending].sort());
        expect(all.every((u) => u.disabledAt === null)).toBe(true);
      });

      it('invites a new address as a passwordless user, renews the link of one who never chose a password, and leaves an account with one alone', async () => {
        const email = uniqueEmail('invitee');
        const first = tokenHash();
        expect(await invite(email, first)).toMatchObject({ status: 'invited', user: { email, roles: ['editor'], emailConfirmedAt: null } });
        expect((await store.findUserForLogin(email))?.passwordHash).toBeNull();
        const second = tokenHash();
        expect(await invite(email, second, ['admin'])).toMatchObject({ status: 'resent', user: { roles: ['editor'] } });
        expect(await store.emailTokenStatus(first)).toMatchObject({ status: 'used' });
        const password = `$2b$10$${'I'.repeat(53)}`;
        expect(await store.resetPasswordWithToken({ tokenHash: second, passwordHash: password, refreshTokenHash: tokenHash(), refreshTtlSeconds: 3600 }))
          .toMatchObject({ status: 'reset', user: { email, emailConfirmedAt: expect.any(String) } });
        expect(await invite(email)).toMatchObject({ status: 'exists', user: { email } });
        expect(await outboxOf(email)).toEqual([{ template: 'invite', sealed: 'v1.sealed' }, { template: 'invite', sealed: 'v1.sealed' }]);
        const events = await target.query("select a.event from rolegate.audit_log a join rolegate.users u on u.id = a.user_id where u.email = $1 order by a.id", [email]);
        expect(events.map((e) => e.event)).toEqual(['user_invited', 'invitation_resent', 'invitation_accepted', 'sessions_revoked', 'login_succeeded']);
      });
    });

    describe('changes to one\'s own account', () => {
      const throttle = (email: string) => ({ windowSeconds: 3600, keys: [{ key: `mail:address:${email}`, maxFailures: 100 }] });
      const ask = (userId: string, sessionId: string, newEmail: string, hash = tokenHash()) =>
        store.requestEmailChange({ userId, sessionId, newEmail, tokenHash: hash, ttlSeconds: 3600, sealed: 'v1.sealed', throttle: throttle(newEmail) });
      const use = (hash: string) => store.changeEmailWithToken({ tokenHash: hash, refreshTokenHash: tokenHash(), refreshTtlSeconds: 3600 });
      const outboxOf = (email: string) => target.query('select template, variables from rolegate.mail_outbox where recipient = $1 order by id', [email]);

      it('changes the password while the session is live, ending every other session and keeping this one', async () => {
        const user = await newUser();
        const here = await newSession(user.id);
        const other = await newSession(user.id);
        const password = `$2b$10$${'C'.repeat(53)}`;
        const changeAsked = tokenHash();
        await ask(user.id, here.sessionId, uniqueEmail('asked-before'), changeAsked);
        const recoveryAsked = tokenHash();
        await store.requestAccountMail({ purpose: 'recovery', email: user.email, tokenHash: recoveryAsked, ttlSeconds: 3600, sealed: 'v1.x', throttle: throttle(user.email) });
        expect(await store.changePassword({ userId: user.id, sessionId: here.sessionId, passwordHash: password })).toEqual({ status: 'changed', sessionsEnded: 1 });
        // An address change or a recovery asked before the new password works no more.
        expect(await use(changeAsked)).toEqual({ status: 'used' });
        expect(await store.emailTokenStatus(recoveryAsked)).toMatchObject({ status: 'used' });
        expect((await store.findUserForLogin(user.email))?.passwordHash).toBe(password);
        expect((await rotate(other.first, tokenHash())).status).toBe('revoked');
        expect((await rotate(here.first, tokenHash())).status).toBe('rotated');
        expect(await store.sessionIsLive({ userId: user.id, sessionId: here.sessionId })).toBe(true);
        expect(await store.sessionIsLive({ userId: user.id, sessionId: other.sessionId })).toBe(false);
        expect(await store.changePassword({ userId: user.id, sessionId: other.sessionId, passwordHash: FAKE_HASH })).toEqual({ status: 'not_live' });
        expect(await store.changePassword({ userId: user.id, sessionId: 'not-a-uuid', passwordHash: FAKE_HASH })).toEqual({ status: 'not_live' });
        expect((await store.findUserForLogin(user.email))?.passwordHash).toBe(password);
      });

      it('mails a new address its link and the old one a notice; the link moves the address, once', async () => {
        const user = await newUser();
        const here = await newSession(user.id);
        const newEmail = uniqueEmail('moving');
        const hash = tokenHash();
        expect(await ask(user.id, here.sessionId, newEmail.toUpperCase(), hash)).toEqual({ status: 'queued' });
        expect(await outboxOf(newEmail)).toEqual([{ template: 'email_change', variables: { email: user.email, new_email: newEmail } }]);
        expect(await outboxOf(user.email)).toEqual([{ template: 'email_change_notice', variables: { email: user.email, new_email: newEmail } }]);
        const results = await Promise.all([use(hash), use(hash)]);
        expect(results.map((r) => r.status).sort()).toEqual(['changed', 'used']);
        expect((await store.findUserById(user.id))?.email).toBe(newEmail);
      });

      it('queues nothing for an address another account holds, the current address or an ended session', async () => {
        const user = await newUser();
        const other = await newUser();
        const here = await newSession(user.id);
        expect(await ask(user.id, here.sessionId, other.email)).toEqual({ status: 'queued' });
        expect(await ask(user.id, here.sessionId, user.email)).toEqual({ status: 'unchanged' });
        await store.revokeSession({ sessionId: here.sessionId });
        expect(await ask(user.id, here.sessionId, uniqueEmail('late'))).toEqual({ status: 'not_live' });
        expect(await outboxOf(user.email)).toEqual([]);
        expect(await outboxOf(other.email)).toEqual([]);
      });

      it('leaves the address as it was when another account took it before the link was used', async () => {
        const user = await newUser();
        const here = await newSession(user.id);
        const newEmail = uniqueEmail('contested');
        const hash = tokenHash();
        await ask(user.id, here.sessionId, newEmail, hash);
        await store.createUser({ email: newEmail, passwordHash: FAKE_HASH });
        expect(await use(hash)).toEqual({ status: 'email_taken' });
        expect((await store.findUserById(user.id))?.email).toBe(user.email);
        expect(await use(hash)).toEqual({ status: 'used' });
      });
    });

    describe('what the Identity-compatible API adds', () => {
      const throttle = (email: string) => ({ windowSeconds: 3600, keys: [{ key: `mail:address:${email}`, maxFailures: 100 }] });
      const passwordLink = (hash: string, purposes: Array<'recovery' | 'invite'>) =>
        store.signInWithPasswordLink({ tokenHash: hash, purposes, refreshTokenHash: tokenHash(), refreshTtlSeconds: 3600, userAgent: 'vitest', ip: '198.51.100.9' });

      it('signs in with a recovery or invitation link once, leaving the password as it was and confirming the address', async () => {
        const user = await newUser();
        const before = await store.findUserForLogin(user.email);
        const recovery = tokenHash();
        await store.requestAccountMail({ purpose: 'recovery', email: user.email, tokenHash: recovery, ttlSeconds: 3600, sealed: 'v1.x', throttle: throttle(user.email) });
        const results = await Promise.all([passwordLink(recovery, ['recovery']), passwordLink(recovery, ['recovery'])]);
        expect(results.map((r) => r.status).sort()).toEqual(['signed_in', 'used']);
        const signedIn = results.find((r) => r.status === 'signed_in') as { sessionId: string; user: { id: string } };
        expect(signedIn.user.id).toBe(user.id);
        expect(await store.sessionIsLive({ userId: user.id, sessionId: signedIn.sessionId })).toBe(true);
        expect((await store.findUserForLogin(user.email))?.passwordHash).toBe(before?.passwordHash);

        const email = uniqueEmail('invited-later');
        const invitation = tokenHash();
        await store.inviteUser({ email, roles: ['editor'], tokenHash: invitation, ttlSeconds: 3600, sealed: 'v1.sealed', throttle: throttle(email) });
        expect(await passwordLink(invitation, ['recovery'])).toEqual({ status: 'wrong_purpose' });
        expect(await passwordLink(invitation, ['invite'])).toMatchObject({ status: 'signed_in', purpose: 'invite', user: { email, emailConfirmedAt: expect.any(String) } });
        expect((await store.findUserForLogin(email))?.passwordHash).toBeNull();
        expect(await passwordLink(tokenHash(), ['recovery'])).toEqual({ status: 'not_found' });
      });

      it('refuses a sign-up link and a disabled user\'s link, starting no session', async () => {
        const email = uniqueEmail('not-a-password-link');
        const hash = tokenHash();
        await store.requestSignup({ email, passwordHash: FAKE_HASH, roles: [], confirmed: false, tokenHash: hash, ttlSeconds: 3600, sealed: 'v1.sealed', throttle: throttle(email) });
        expect(await passwordLink(hash, ['recovery', 'invite'])).toEqual({ status: 'wrong_purpose' });
        const user = await newUser();
        const recovery = tokenHash();
        await store.requestAccountMail({ purpose: 'recovery', email: user.email, tokenHash: recovery, ttlSeconds: 3600, sealed: 'v1.x', throttle: throttle(user.email) });
        await store.setUserDisabled(user.id, true);
        expect(await passwordLink(recovery, ['recovery'])).toEqual({ status: 'user_unavailable' });
        const sessions = await target.query('select id from rolegate.sessions where user_id = $1', [user.id]);
        expect(sessions).toEqual([]);
      });

      it('tells a young live session from an old or ended one', async () => {
        const user = await newUser();
        const here = await newSession(user.id);
        expect(await store.sessionIsRecent({ userId: user.id, sessionId: here.sessionId, seconds: 600 })).toBe(true);
        await target.query(`update rolegate.sessions set created_at = now() - interval '11 minutes' where id = $1`, [here.sessionId]);
        expect(await store.sessionIsRecent({ userId: user.id, sessionId: here.sessionId, seconds: 600 })).toBe(false);
        const other = await newSession(user.id);
        await store.revokeSession({ sessionId: other.sessionId });
        expect(await store.sessionIsRecent({ userId: user.id, sessionId: other.sessionId, seconds: 600 })).toBe(false);
        expect(await store.sessionIsRecent({ userId: user.id, sessionId: 'not-a-uuid', seconds: 600 })).toBe(false);
      });

      it('merges user_metadata, a null removing its key, only from a live session of the user or without one', async () => {
        const user = await newUser();
        const here = await newSession(user.id);
        expect(await store.updateUserMetadata({ userId: user.id, sessionId: here.sessionId, patch: { full_name: 'Ada', city: 'London' } }))
          .toMatchObject({ status: 'updated', user: { userMetadata: { full_name: 'Ada', city: 'London' } } });
        expect(await store.updateUserMetadata({ userId: user.id, patch: { city: null, team: 'core' } }))
          .toMatchObject({ status: 'updated', user: { userMetadata: { full_name: 'Ada', team: 'core' } } });
        await store.revokeSession({ sessionId: here.sessionId });
        expect(await store.updateUserMetadata({ userId: user.id, sessionId: here.sessionId, patch: { full_name: 'Eve' } })).toEqual({ status: 'not_live' });
        expect((await store.findUserById(user.id))?.userMetadata).toEqual({ full_name: 'Ada', team: 'core' });
        expect(await store.updateUserMetadata({ userId: '00000000-0000-4000-8000-000000000000', patch: { a: 1 } })).toEqual({ status: 'not_found' });
      });

      it('keeps a sign-up\'s user_metadata on the account it makes, and leaves a known or invited address\'s alone', async () => {
        const signup = (email: string, confirmed = false) => store.requestSignup({
          email, passwordHash: FAKE_HASH, roles: ['member'], confirmed, tokenHash: tokenHash(), ttlSeconds: 3600, sealed: 'v1.sealed',
          throttle: throttle(email), userMetadata: { full_name: 'Ada' },
        });
        const fresh = uniqueEmail('with-data');
        expect(await signup(fresh)).toEqual({ status: 'queued' });
        expect((await store.findUserByEmail(fresh))?.userMetadata).toEqual({ full_name: 'Ada' });
        const instant = uniqueEmail('with-data-now');
        expect(await signup(instant, true)).toMatchObject({ status: 'created', user: { userMetadata: { full_name: 'Ada' } } });
        const known = await newUser();
        expect(await signup(known.email)).toEqual({ status: 'exists' });
        expect((await store.findUserByEmail(known.email))?.userMetadata).toEqual({});
        const invited = uniqueEmail('invited-data');
        await store.inviteUser({ email: invited, roles: [], tokenHash: tokenHash(), ttlSeconds: 3600, sealed: 'v1.sealed', throttle: throttle(invited) });
        await signup(invited);
        expect((await store.findUserByEmail(invited))?.userMetadata).toEqual({});
      });

      it('moves the address by its own link inside the session, starting none, and refuses another user\'s link', async () => {
        const user = await newUser();
        const here = await newSession(user.id);
        const newEmail = uniqueEmail('in-session');
        const hash = tokenHash();
        await store.requestEmailChange({ userId: user.id, sessionId: here.sessionId, newEmail, tokenHash: hash, ttlSeconds: 3600, sealed: 'v1.sealed', throttle: throttle(newEmail) });
        const other = await newUser();
        const otherSession = await newSession(other.id);
        expect(await store.changeEmailInSession({ userId: other.id, sessionId: otherSession.sessionId, tokenHash: hash })).toEqual({ status: 'not_found' });
        expect(await store.emailTokenStatus(hash)).toMatchObject({ status: 'valid' });
        expect(await store.changeEmailInSession({ userId: user.id, sessionId: here.sessionId, tokenHash: hash })).toMatchObject({ status: 'changed', user: { email: newEmail } });
        expect(await store.changeEmailInSession({ userId: user.id, sessionId: here.sessionId, tokenHash: hash })).toEqual({ status: 'used' });
        expect(await target.query('select id from rolegate.sessions where user_id = $1', [user.id])).toEqual([{ id: here.sessionId }]);
        await store.revokeSession({ sessionId: here.sessionId });
        expect(await store.changeEmailInSession({ userId: user.id, sessionId: here.sessionId, tokenHash: tokenHash() })).toEqual({ status: 'not_live' });
      });

      it('deletes a user with their sessions, links and waiting mail, and keeps the event without the address', async () => {
        const admin = await newUser();
        const user = await newUser();
        const session = await newSession(user.id);
        await store.requestAccountMail({ purpose: 'recovery', email: user.email, tokenHash: tokenHash(), ttlSeconds: 3600, sealed: 'v1.x', throttle: throttle(user.email) });
        expect(await store.deleteUser({ userId: user.id, by: admin.id, ip: '198.51.100.9' })).toEqual({ status: 'deleted' });
        expect(await store.findUserById(user.id)).toBeNull();
        expect((await rotate(session.first, tokenHash())).status).not.toBe('rotated');
        expect(await target.query('select 1 from rolegate.sessions where user_id = $1', [user.id])).toEqual([]);
        expect(await target.query('select 1 from rolegate.email_tokens where user_id = $1', [user.id])).toEqual([]);
        expect(await target.query('select 1 from rolegate.mail_outbox where recipient = $1', [user.email])).toEqual([]);
        const events = await target.query("select detail from rolegate.audit_log where event = 'user_deleted' and user_id = $1", [user.id]);
        expect(events).toEqual([{ detail: { by: admin.id } }]);
        expect(await store.deleteUser({ userId: user.id })).toEqual({ status: 'not_found' });
        expect(await store.deleteUser({ userId: 'not-a-uuid' })).toEqual({ status: 'not_found' });
        expect(await store.findUserById(admin.id)).not.toBeNull();
      });
    });

    describe('sign-in through a provider', () => {
      let subjects = 0;
      const subject = () => `subject-${process.pid}-${++subjects}-${randomBytes(3).toString('hex')}`;
      const viaProvider = (over: Partial<Parameters<Store['signInWithProvider']>[0]> & { subject: string; email: string | null }) =>
        store.signInWithProvider({
          provider: 'acme', emailVerified: true, stateHash: tokenHash(), stateTtlSeconds: 600, mayCreate: true, newUserRoles: ['member'],
          refreshTokenHash: tokenHash(), refreshTtlSeconds: 3600, userAgent: 'vitest', ip: '198.51.100.20', ...over,
        });

      it('makes a confirmed, passwordless user with the new-user roles, then signs the same identity in again whatever its address says now', async () => {
        const email = uniqueEmail('provider-new');
        const sub = subject();
        const first = await viaProvider({ subject: sub, email: email.toUpperCase() });
        expect(first).toMatchObject({ status: 'signed_in', outcome: 'created', user: { email, roles: ['member'], emailConfirmedAt: expect.any(String) } });
        const user = (first as { user: { id: string } }).user;
        expect((await store.findUserForLogin(email))?.passwordHash).toBeNull();
        expect(await store.sessionIsLive({ userId: user.id, sessionId: (first as { sessionId: string }).sessionId })).toBe(true);
        const again = await viaProvider({ subject: sub, email: 'changed-at-provider@example.com', emailVerified: false, mayCreate: false });
        expect(again).toMatchObject({ status: 'signed_in', outcome: 'signed_in', user: { id: user.id, email } });
        expect(await store.listIdentities(user.id)).toEqual([
          { id: expect.any(String), provider: 'acme', email, createdAt: expect.any(String), lastSignInAt: expect.any(String) },
        ]);
      });

      it('uses each state once, even when the second use is refused for another reason', async () => {
        const stateHash = tokenHash();
        const results = await Promise.all([
          viaProvider({ subject: subject(), email: uniqueEmail('state-a'), stateHash }),
          viaProvider({ subject: subject(), email: uniqueEmail('state-b'), stateHash }),
        ]);
        expect(results.map((r) => r.status).sort()).toEqual(['signed_in', 'state_used']);
        expect(await viaProvider({ subject: subject(), email: null, stateHash })).toEqual({ status: 'state_used' });
      });

      it('links an existing user only through a verified address, and never makes one with an unverified address', async () => {
        const user = await newUser(['editor']);
        const before = await target.query('select count(*)::int as n from rolegate.users');
        expect(await viaProvider({ subject: subject(), email: user.email, emailVerified: false })).toEqual({ status: 'email_unverified' });
        expect(await viaProvider({ subject: subject(), email: uniqueEmail('unverified'), emailVerified: false })).toEqual({ status: 'email_unverified' });
        expect(await viaProvider({ subject: subject(), email: null })).toEqual({ status: 'email_unverified' });
        expect(await target.query('select count(*)::int as n from rolegate.users')).toEqual(before);
        expect(await store.listIdentities(user.id)).toEqual([]);

        const linked = await viaProvider({ subject: subject(), email: user.email, mayCreate: false });
        expect(linked).toMatchObject({ status: 'signed_in', outcome: 'linked', user: { id: user.id, roles: ['editor'] } });
        expect((await store.findUserForLogin(user.email))?.passwordHash).toBe(FAKE_HASH);
        const events = await target.query("select detail from rolegate.audit_log where event = 'identity_linked' and user_id = $1", [user.id]);
        expect(events).toEqual([{ detail: { provider: 'acme' } }]);
      });

      it('confirms a sign-up still waiting for its link and drops the password whoever signed up chose', async () => {
        const email = uniqueEmail('pending');
        const signupToken = tokenHash();
        await store.requestSignup({ email, passwordHash: FAKE_HASH, roles: [], confirmed: false, tokenHash: signupToken, ttlSeconds: 3600, sealed: 'v1.x',
          throttle: { windowSeconds: 3600, keys: [{ key: `signup:${email}`, maxFailures: 100 }] } });
        const linked = await viaProvider({ subject: subject(), email });
        expect(linked).toMatchObject({ status: 'signed_in', outcome: 'linked', user: { email, emailConfirmedAt: expect.any(String) } });
        expect((await store.findUserForLogin(email))?.passwordHash).toBeNull();
        const link = await store.signInWithToken({ tokenHash: signupToken, purposes: ['signup'], refreshTokenHash: tokenHash(), refreshTtlSeconds: 3600 });
        expect(link).toEqual({ status: 'used' });
      });

      it('follows the registration policy and refuses a disabled user, starting no session', async () => {
        const email = uniqueEmail('closed');
        expect(await viaProvider({ subject: subject(), email, mayCreate: false })).toEqual({ status: 'registration_closed' });
        expect(await store.findUserByEmail(email)).toBeNull();
        const user = await newUser();
        const sub = subject();
        await viaProvider({ subject: sub, email: user.email });
        await store.setUserDisabled(user.id, true);
        const sessionsBefore = await target.query('select count(*)::int as n from rolegate.sessions where user_id = $1', [user.id]);
        expect(await viaProvider({ subject: sub, email: user.email })).toEqual({ status: 'user_unavailable' });
        expect(await viaProvider({ subject: subject(), email: user.email })).toEqual({ status: 'user_unavailable' });
        expect(await target.query('select count(*)::int as n from rolegate.sessions where user_id = $1', [user.id])).toEqual(sessionsBefore);
      });

      it('unlinks an identity from a live session, keeps the last way to sign in, and goes with its user', async () => {
        const email = uniqueEmail('unlink');
        const first = await viaProvider({ subject: subject(), email, provider: 'github' });
        const { user, sessionId } = first as { user: { id: string }; sessionId: string };
        const [only] = await store.listIdentities(user.id);
        expect(await store.unlinkIdentity({ userId: user.id, sessionId, identityId: only!.id })).toEqual({ status: 'last_sign_in_method' });
        await viaProvider({ subject: subject(), email, provider: 'google' });
        expect(await store.unlinkIdentity({ userId: user.id, sessionId: randomUUID(), identityId: only!.id })).toEqual({ status: 'not_live' });
        const stranger = await newUser();
        const strangerSession = await newSession(stranger.id);
        expect(await store.unlinkIdentity({ userId: stranger.id, sessionId: strangerSession.sessionId, identityId: only!.id })).toEqual({ status: 'not_found' });
        expect(await store.unlinkIdentity({ userId: user.id, sessionId, identityId: only!.id })).toEqual({ status: 'removed' });
        expect((await store.listIdentities(user.id)).map((i) => i.provider)).toEqual(['google']);
        expect(await store.unlinkIdentity({ userId: user.id, sessionId, identityId: 'nope' })).toEqual({ status: 'not_found' });
        // A malformed id from a session that is not live learns nothing about ids: the session is asked first.
        expect(await store.unlinkIdentity({ userId: user.id, sessionId: randomUUID(), identityId: 'nope' })).toEqual({ status: 'not_live' });
        await store.deleteUser({ userId: user.id });
        expect(await target.query('select 1 from rolegate.identities where user_id = $1', [user.id])).toEqual([]);
      });
    });

    describe('what the admin page reads and changes', () => {
      const adminAudit = (userId: string, event: string) =>
        target.query(`select ip, detail from rolegate.audit_log where user_id = $1 and event = $2 order by id`, [userId, event]);

      it('names the acting admin and their address in the audit of a role change, a disable and ended sessions; the CLI names no one', async () => {
        const admin = await newUser(['admin']);
        const user = await newUser();
        await newSession(user.id);
        const actor = { by: admin.id, ip: '198.51.100.40' };
        expect(await store.setUserRoles(user.id, ['editor'], actor)).toMatchObject({ status: 'updated', user: { roles: ['editor'] } });
        expect(await adminAudit(user.id, 'roles_changed')).toEqual([{ ip: actor.ip, detail: { roles: ['editor'], by: admin.id } }]);
        expect(await store.revokeUserSessions(user.id, 'revoked_by_admin', actor)).toEqual({ status: 'revoked', sessions: 1 });
        expect(await adminAudit(user.id, 'sessions_revoked')).toEqual([{ ip: actor.ip, detail: { reason: 'revoked_by_admin', sessions: 1, by: admin.id } }]);
        await newSession(user.id);
        expect(await store.setUserDisabled(user.id, true, actor)).toMatchObject({ status: 'updated' });
        expect(await adminAudit(user.id, 'user_disabled')).toEqual([{ ip: actor.ip, detail: { by: admin.id } }]);
        expect((await adminAudit(user.id, 'sessions_revoked')).at(-1)).toEqual({ ip: actor.ip, detail: { reason: 'user_disabled', sessions: 1, by: admin.id } });
        expect(await store.setUserDisabled(user.id, false)).toMatchObject({ status: 'updated' });
        expect(await adminAudit(user.id, 'user_enabled')).toEqual([{ ip: null, detail: {} }]);
        // A malformed actor id names no one rather than failing the change.
        expect(await store.setUserRoles(user.id, ['member'], { by: 'not-a-uuid' })).toMatchObject({ status: 'updated' });
        expect((await adminAudit(user.id, 'roles_changed')).at(-1)).toEqual({ ip: null, detail: { roles: ['member'] } });
      });

      it('finds users by any part of the address in any case, or by role, in pages by address, counting every match', async () => {
        const tag = `find${randomBytes(3).toString('hex')}`;
        const made = [];
        for (const [prefix, roles] of [['b', ['member']], ['a', ['editor']], ['c', ['member']]] as const) {
          const created = await store.createUser({ email: `${prefix}.${tag}@example.com`, passwordHash: prefix === 'c' ? null : FAKE_HASH, roles: [...roles] });
          if (created.status !== 'created') throw new Error('fixture user not created');
          made.push(created.user);
        }
        await newSession(made[0]!.id);
        const all = await store.searchUsers({ query: tag.toUpperCase(), limit: 10, offset: 0 });
        expect([all.total, all.users.map((u) => u.email.split('.')[0])]).toEqual([3, ['a', 'b', 'c']]);
        expect(all.users.map((u) => [u.hasPassword, u.lastSignInAt === null])).toEqual([[true, true], [true, false], [false, true]]);
        expect(await store.searchUsers({ query: tag, limit: 1, offset: 1 })).toMatchObject({ total: 3, users: [{ email: `b.${tag}@example.com` }] });
        expect((await store.searchUsers({ query: tag, role: 'member', limit: 10, offset: 0 })).users.map((u) => u.email[0])).toEqual(['b', 'c']);
        // Wildcards of LIKE are plain characters here.
        expect(await store.searchUsers({ query: `%${tag}`, limit: 10, offset: 0 })).toEqual({ total: 0, users: [] });
        expect(await store.searchUsers({ query: '_', limit: 10, offset: 0 })).toMatchObject({ total: 0 });
        expect((await store.searchUsers({ query: '', limit: 1, offset: 0 })).total).toBeGreaterThanOrEqual(3);
      });

      it('shows one user with their sessions, live or ended, newest first, and their linked providers; nobody for an unknown id', async () => {
        const user = await newUser();
        const older = await newSession(user.id);
        await store.revokeSession({ sessionId: older.sessionId, reason: 'logout' });
        const newer = await newSession(user.id);
        await target.query(`update rolegate.sessions set created_at = created_at - interval '1 hour' where id = $1`, [older.sessionId]);
        const detail = await store.adminUserDetail(user.id);
        expect(detail?.user).toMatchObject({ id: user.id, email: user.email, hasPassword: true });
        expect(detail?.sessions).toEqual([
          { id: newer.sessionId, createdAt: expect.any(String), lastSeenAt: expect.any(String), userAgent: 'vitest', ip: '203.0.113.9', live: true, revokedAt: null, revokedReason: null },
          expect.objectContaining({ id: older.sessionId, live: false, revokedReason: 'logout', revokedAt: expect.any(String) }),
        ]);
        expect(detail?.identities).toEqual([]);
        expect(await store.adminUserDetail(randomUUID())).toBeNull();
        expect(await store.adminUserDetail('nope')).toBeNull();
      });

      it('reads the audit log newest first, one user\'s or everyone\'s, paging back by id', async () => {
        const user = await newUser();
        for (const roles of [['a'], ['b'], ['c']]) await store.setUserRoles(user.id, roles);
        const mine = await store.listAudit({ userId: user.id, limit: 10 });
        expect(mine.slice(0, 3).map((a) => [a.event, a.detail.roles])).toEqual([['roles_changed', ['c']], ['roles_changed', ['b']], ['roles_changed', ['a']]]);
        expect(mine[0]).toEqual({ id: expect.any(Number), at: expect.any(String), event: 'roles_changed', userId: user.id, sessionId: null, ip: null, detail: { roles: ['c'] } });
        const back = await store.listAudit({ userId: user.id, before: mine[0]!.id, limit: 1 });
        expect(back.map((a) => a.detail.roles)).toEqual([['b']]);
        expect((await store.listAudit({ limit: 2 })).length).toBe(2);
        expect(await store.listAudit({ userId: 'nope', limit: 5 })).toEqual([]);
      });
    });

    describe('identity mirror', () => {
      const identityUser = (over: Partial<IdentityUser> = {}): IdentityUser => ({
        id: randomUUID(), email: uniqueEmail('identity'), roles: ['editor'],
        appMetadata: { provider: 'email', roles: ['editor'] }, userMetadata: { full_name: 'Ada' },
        createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-02T00:00:00.000Z',
        confirmedAt: null, lastLoginAt: null, instanceId: 'instance-1', observedAt: '2026-01-02T00:00:00.000Z', ...over,
      });

      it('lists the mirror by address, the newest copy of each, a page at a time', async () => {
        const prefix = `list-${randomUUID().slice(0, 8)}`;
        const users = ['c', 'a', 'b'].map((letter) => identityUser({ email: `${prefix}-${letter}@example.com`, roles: [letter] }));
        await store.upsertIdentityUsers(users);
        // A second Identity account of one address (another instance), newer: it is the one listed.
        await store.upsertIdentityUsers([identityUser({ email: `${prefix}-b@example.com`, roles: ['b-newer'], updatedAt: '2026-03-01T00:00:00.000Z' })]);
        const ours = async (page: { limit: number; afterEmail?: string }) => (await store.listIdentityUsers(page)).filter((u) => u.email.startsWith(prefix));
        const first = await ours({ limit: 1000, afterEmail: `${prefix}-` });
        expect(first.map((u) => [u.email, u.roles])).toEqual([[`${prefix}-a@example.com`, ['a']], [`${prefix}-b@example.com`, ['b-newer']], [`${prefix}-c@example.com`, ['c']]]);
        expect((await store.listIdentityUsers({ limit: 2, afterEmail: `${prefix}-` })).map((u) => u.email)).toEqual([`${prefix}-a@example.com`, `${prefix}-b@example.com`]);
        expect((await ours({ limit: 1000, afterEmail: `${prefix}-b@example.com` })).map((u) => u.email)).toEqual([`${prefix}-c@example.com`]);
        expect(first[0]).toMatchObject({ appMetadata: users[1]!.appMetadata, updatedAt: users[1]!.updatedAt });
      });

      it('creates, then leaves an identical copy unchanged and ignores an older one', async () => {
        const user = identityUser();
        expect(await store.upsertIdentityUsers([user])).toEqual({ created: 1, updated: 0, unchanged: 0, stale: 0 });
        expect(await store.upsertIdentityUsers([user])).toEqual({ created: 0, updated: 0, unchanged: 1, stale: 0 });
        const older = { ...user, roles: ['old'], updatedAt: '2026-01-01T12:00:00.000Z' };
        expect(await store.upsertIdentityUsers([older])).toEqual({ created: 0, updated: 0, unchanged: 0, stale: 1 });
        expect(await store.findIdentityUser({ id: user.id })).toMatchObject({ roles: ['editor'], updatedAt: user.updatedAt, appMetadata: user.appMetadata });
      });

      it('takes newer data, keeps last_login_at moving forward only, and finds by email in any case', async () => {
        const user = identityUser();
        await store.upsertIdentityUsers([user]);
        const newer = { ...user, roles: ['admin'], updatedAt: '2026-02-01T00:00:00.000Z', lastLoginAt: '2026-02-01T00:00:00.000Z' };
        expect(await store.upsertIdentityUsers([newer])).toEqual({ created: 0, updated: 1, unchanged: 0, stale: 0 });
        const lateLogin = { ...user, lastLoginAt: '2026-01-15T00:00:00.000Z' };
        expect((await store.upsertIdentityUsers([lateLogin])).stale).toBe(1);
        const found = await store.findIdentityUser({ email: user.email.toUpperCase() });
        expect(found).toMatchObject({ id: user.id, roles: ['admin'], lastLoginAt: '2026-02-01T00:00:00.000Z' });
        const laterLogin = { ...newer, lastLoginAt: '2026-03-01T00:00:00.000Z' };
        expect((await store.upsertIdentityUsers([laterLogin])).updated).toBe(1);
        expect((await store.findIdentityUser({ id: user.id }))?.lastLoginAt).toBe('2026-03-01T00:00:00.000Z');
      });

      it('upserts a batch in one call, the newest copy of a repeated id winning', async () => {
        const users = Array.from({ length: 25 }, () => identityUser());
        const repeated = { ...users[0]!, roles: ['newest'], updatedAt: '2026-05-01T00:00:00.000Z' };
        expect(await store.upsertIdentityUsers([...users, repeated])).toEqual({ created: 25, updated: 0, unchanged: 0, stale: 0 });
        expect((await store.findIdentityUser({ id: users[0]!.id }))?.roles).toEqual(['newest']);
        // The older copy's later login is kept: logins only move forward, whatever the order.
        const loggedIn = { ...users[1]!, lastLoginAt: '2026-05-01T00:00:00.000Z' };
        const newerData = { ...users[1]!, roles: ['newer'], updatedAt: '2026-04-01T00:00:00.000Z', lastLoginAt: '2026-04-01T00:00:00.000Z' };
        expect(await store.upsertIdentityUsers([loggedIn, newerData])).toEqual({ created: 0, updated: 1, unchanged: 0, stale: 0 });
        expect(await store.findIdentityUser({ id: users[1]!.id })).toMatchObject({ roles: ['newer'], lastLoginAt: '2026-05-01T00:00:00.000Z' });
        expect(await store.upsertIdentityUsers([])).toEqual({ created: 0, updated: 0, unchanged: 0, stale: 0 });
      });

      it('rejects a malformed row and writes nothing of its batch', async () => {
        const good = identityUser();
        const bad = { ...identityUser(), updatedAt: 'not a time' };
        await expect(store.upsertIdentityUsers([good, bad])).rejects.toThrow();
        expect(await store.findIdentityUser({ id: good.id })).toBeNull();
      });

      it('orders copies with the same updated_at by when they were read (GoTrue does not bump it on role changes)', async () => {
        const user = identityUser();
        await store.upsertIdentityUsers([user]);
        const readLater = { ...user, roles: ['admin'], observedAt: '2026-03-01T00:00:00.000Z' };
        expect(await store.upsertIdentityUsers([readLater])).toEqual({ created: 0, updated: 1, unchanged: 0, stale: 0 });
        const readEarlier = { ...user, roles: ['old'], observedAt: '2026-02-01T00:00:00.000Z' };
        expect(await store.upsertIdentityUsers([readEarlier])).toEqual({ created: 0, updated: 0, unchanged: 0, stale: 1 });
        const sameDataReadLast = { ...readLater, observedAt: '2026-04-01T00:00:00.000Z' };
        expect(await store.upsertIdentityUsers([sameDataReadLast])).toEqual({ created: 0, updated: 0, unchanged: 1, stale: 0 });
        // The read of 2026-03 is now older than the one of 2026-04: stale, nothing changes.
        expect((await store.upsertIdentityUsers([{ ...readLater, roles: ['x'] }])).stale).toBe(1);
        expect(await store.findIdentityUser({ id: user.id })).toMatchObject({ roles: ['admin'], observedAt: '2026-04-01T00:00:00.000Z' });
      });

      it('keeps a job cursor until it is cleared', async () => {
        const name = `backfill-${randomUUID()}`;
        expect(await store.getSyncCursor(name)).toBeNull();
        await store.setSyncCursor(name, { page: 3, perPage: 100 });
        await store.setSyncCursor(name, { page: 4, perPage: 100 });
        expect(await store.getSyncCursor(name)).toEqual({ page: 4, perPage: 100 });
        await store.setSyncCursor(name, null);
        expect(await store.getSyncCursor(name)).toBeNull();
      });
    });
  });
}
