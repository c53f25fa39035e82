/**
 * Found while writing the account fuzz's oracle for change_password: a new password retires
 * the user's unused recovery links ("recovery links mailed before now would undo the change")
 * but not an address change link asked before it. The notice mailed to the old address says
 * "If it wasn't you, sign in and change your password", yet doing so leaves the link working:
 * whoever asked for it (a stolen session and a known password) still moved the account to
 * their own address and was signed in by the link, after the owner changed the password.
 * Now a new password (changed or reset) retires the account's recovery, sign-in and address
 * change links.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountHandler, verifyHandler } from '../../src/auth/account-handlers.js';
import type { AuthDeps } from '../../src/auth/deps.js';
import { signAccessTokenWithJose } from '../../src/core/access-token.js';
import { newRefreshToken, refreshTokenHash } from '../../src/core/refresh-token.js';
import { Secret } from '../../src/core/secret.js';
import { openMailSecret } from '../../src/mail/seal.js';
import type { Store, User } from '../../src/store/store.js';
import { PASSWORD, SECRET, body, event, makeDeps, makeUser, setCookies } from '../auth/support.js';
import { openTestStore, type TestStore } from '../support/databases.js';

describe('a new password ends an address change asked before it', () => {
  let t: TestStore;
  let store: Store;
  let sql: pg.Pool;
  let deps: AuthDeps;

  beforeAll(async () => {
    t = await openTestStore();
    ({ store, sql } = t);
    deps = { ...makeDeps(store), kickMail: async () => undefined };
  });
  afterAll(() => t.close());

  async function signedIn(user: User): Promise<string> {
    const created = await store.createSession({ userId: user.id, refreshTokenHash: refreshTokenHash(newRefreshToken()), refreshTtlSeconds: 3600 });
    if (created.status !== 'created') throw new Error('fixture session');
    const { token } = await signAccessTokenWithJose({
      subject: { id: user.id, email: user.email, roles: user.roles }, sessionId: created.sessionId,
      secret: deps.config.jwtSecret, issuer: deps.config.jwtIssuer, ttlSeconds: 900, now: deps.now(),
    });
    return token;
  }

  it('the link mailed to the new address stops working once the owner changes the password, and the account stays at its address', async () => {
    const account = accountHandler(async () => deps);
    const verify = verifyHandler(async () => deps);
    const owner = await makeUser(store);
    const intruder = await signedIn(owner);
    const ownersOwn = await signedIn(owner);

    // Someone with a session of the owner's and the password asks to move the account to their address.
    const asked = await account(event({ path: '/.netlify/functions/account', json: { action: 'email', email: 'intruder@evil.example', current_password: PASSWORD }, cookies: { nf_jwt: intruder } }));
    expect(asked.statusCode, asked.body ?? '').toBe(202);
    const mail = (await sql.query(`select sealed from rolegate.mail_outbox where recipient = 'intruder@evil.example' and template = 'email_change'`)).rows[0];
    const { token } = JSON.parse(openMailSecret([new Secret(SECRET)], String(mail.sealed))!) as { token: string };

    // The owner reads the notice and does what it says: a new password (the intruder's session ends).
    const changed = await account(event({ path: '/.netlify/functions/account', json: { action: 'password', current_password: PASSWORD, password: 'the owner took it back' }, cookies: { nf_jwt: ownersOwn } }));
    expect([changed.statusCode, body(changed)]).toEqual([200, { ok: true, sessions_ended: 1 }]);

    // Expected: the link is dead (used, as a recovery link is) and changes nothing.
    // Got (3dd2fc2): 200, the account moved to intruder@evil.example and a new session for the intruder.
    const used = await verify(event({ path: '/.netlify/functions/verify', json: { token } }));
    expect([[410, 'link_used'], [400, 'link_invalid']], used.body ?? '').toContainEqual([used.statusCode, body(used).error?.code]);
    // No session for whoever holds the link; only the link's own cookie is cleared.
    expect(setCookies(used).filter((c) => !c.startsWith('rolegate_link=;'))).toEqual([]);
    const row = (await sql.query('select email from rolegate.users where id = $1', [owner.id])).rows[0];
    expect(row.email).toBe(owner.email);
    expect((await sql.query('select count(*)::int as n from rolegate.sessions where user_id = $1 and revoked_at is null', [owner.id])).rows[0].n).toBe(1);
  });
});
