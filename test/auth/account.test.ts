import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountHandler, verifyHandler } from '../../src/auth/account-handlers.js';
import type { AuthDeps } from '../../src/auth/deps.js';
import { loginHandler, refreshHandler } from '../../src/auth/handlers.js';
import { Secret } from '../../src/core/secret.js';
import { openMailSecret } from '../../src/mail/seal.js';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import type { Store } from '../../src/store/store.js';
import { uniqueEmail } from '../store/contract.js';
import { PASSWORD, SECRET, body, cookieValues, event, makeDeps, makeUser } from './support.js';

const NEW_PASSWORD = 'a brand new passphrase';

let store: Store;
let deps: AuthDeps;
const sql = (text: string, values: unknown[]) => (store as unknown as { db: { db: PGlite } }).db.db.query<Record<string, unknown>>(text, values);

beforeAll(async () => {
  store = await openEmbeddedStore({ dataDir: 'memory://' });
  deps = { ...makeDeps(store, { MAIL_MAX_PER_ADDRESS: '3', LOGIN_MAX_FAILURES_PER_ACCOUNT: '3' }), kickMail: async () => {} };
});
afterAll(() => store.close());

const account = (options: Parameters<typeof event>[0]) => accountHandler(async () => deps)(event({ path: '/auth/account', ...options }));
const verify = (options: Parameters<typeof event>[0]) => verifyHandler(async () => deps)(event(options));
const login = (email: string, password: string) => loginHandler(async () => deps)(event({ json: { email, password } }));
const refresh = (cookies: Record<string, string>) => refreshHandler(async () => deps)(event({ method: 'POST', path: '/.netlify/functions/refresh', cookies }));

async function signedIn(email: string, password = PASSWORD): Promise<Record<string, string>> {
  const response = await login(email, password);
  expect(response.statusCode).toBe(200);
  return cookieValues(response);
}

/** The unsent mails to `email`, in order, marked sent (read straight from the outbox, so mails to others stay due). */
async function mailsTo(email: string) {
  const rows = (await sql('update rolegate.mail_outbox set sent_at = now() where recipient = $1 and sent_at is null returning id, template, variables, sealed', [email])).rows;
  return rows.sort((a, b) => Number(a.id) - Number(b.id)).map((m) => ({
    template: m.template, variables: m.variables,
    link: m.sealed ? new URL(JSON.parse(openMailSecret([new Secret(SECRET)], String(m.sealed))!).url) : null,
  }));
}

describe('account: changing the password', () => {
  it('needs the current password; then every other session ends and this one goes on', async () => {
    const user = await makeUser(store);
    const here = await signedIn(user.email);
    const elsewhere = await signedIn(user.email);
    const wrong = await account({ json: { action: 'password', current_password: 'not it at all', password: NEW_PASSWORD }, cookies: here });
    expect([wrong.statusCode, body(wrong).error.code]).toEqual([403, 'wrong_password']);
    expect((await login(user.email, PASSWORD)).statusCode).toBe(200);

    const changed = await account({ json: { action: 'password', current_password: PASSWORD, password: NEW_PASSWORD, password_confirm: NEW_PASSWORD }, cookies: here });
    // The other two: the second browser and the sign-in that checked the wrong guess changed nothing.
    expect([changed.statusCode, body(changed)]).toEqual([200, { ok: true, sessions_ended: 2 }]);
    expect(body(await login(user.email, PASSWORD)).error.code).toBe('invalid_credentials');
    expect((await login(user.email, NEW_PASSWORD)).statusCode).toBe(200);
    expect((await refresh(elsewhere)).statusCode).toBe(401);
    expect((await refresh(here)).statusCode).toBe(200);
  });

  it('counts wrong current passwords against the login throttle', async () => {
    const user = await makeUser(store);
    const here = await signedIn(user.email);
    const codes = [];
    for (let i = 0; i < 4; i += 1) codes.push(body(await account({ json: { action: 'password', current_password: `wrong ${i} wrong`, password: NEW_PASSWORD }, cookies: here })).error.code);
    expect(codes).toEqual(['wrong_password', 'wrong_password', 'wrong_password', 'throttled']);
    const right = await account({ json: { action: 'password', current_password: PASSWORD, password: NEW_PASSWORD }, cookies: here });
    expect(body(right).error.code).toBe('throttled');
  });

  it('refuses without a session, from another site, with a weak password or no action, changing nothing', async () => {
    const user = await makeUser(store);
    const here = await signedIn(user.email);
    const change = { action: 'password', current_password: PASSWORD, password: NEW_PASSWORD };
    expect(body(await account({ json: change })).error.code).toBe('unauthenticated');
    expect(body(await account({ json: change, cookies: here, origin: 'https://evil.test' })).error.code).toBe('bad_origin');
    expect(body(await account({ json: { ...change, password: 'short' }, cookies: here })).error.code).toBe('weak_password');
    expect(body(await account({ json: { ...change, action: 'delete' }, cookies: here })).error.code).toBe('bad_request');
    expect(body(await account({ json: { ...change, current_password: undefined }, cookies: here })).error.code).toBe('bad_request');
    expect((await login(user.email, PASSWORD)).statusCode).toBe(200);
  });

  it('answers an ended session session_expired whether its current password is right or wrong, counting nothing', async () => {
    const user = await makeUser(store);
    const here = await signedIn(user.email);
    await store.revokeUserSessions(user.id);
    const before = (await sql('select count(*)::int as n from rolegate.login_throttle where key = $1', [`account:${user.email}`])).rows[0]?.n;
    for (const current of [PASSWORD, 'a wrong guess here']) {
      const answer = await account({ json: { action: 'password', current_password: current, password: NEW_PASSWORD }, cookies: here });
      expect([answer.statusCode, body(answer).error.code], current).toEqual([401, 'session_expired']);
    }
    expect((await sql('select count(*)::int as n from rolegate.login_throttle where key = $1', [`account:${user.email}`])).rows[0]?.n).toBe(before);
    expect((await login(user.email, PASSWORD)).statusCode).toBe(200);
  });

  it('answers a form with the account page, and a form without a session with the sign-in page', async () => {
    const user = await makeUser(store);
    const here = await signedIn(user.email);
    const wrong = await account({ form: { action: 'password', current_password: 'nope nope nope', password: NEW_PASSWORD }, cookies: here });
    expect(wrong.headers?.Location).toBe('/account?error=wrong_password');
    const done = await account({ form: { action: 'password', current_password: PASSWORD, password: NEW_PASSWORD }, cookies: here });
    expect(done.headers?.Location).toBe('/account?done=password');
    const anonymous = await account({ form: { action: 'password', current_password: PASSWORD, password: NEW_PASSWORD } });
    expect(anonymous.headers?.Location).toBe('/login?error=session_expired&next=%2Faccount');
  });
});

describe('account: changing the address', () => {
  it('mails a link to the new address and a notice to the old; the link moves the account and signs in', async () => {
    const user = await makeUser(store);
    const here = await signedIn(user.email);
    const newEmail = uniqueEmail('moved');
    const asked = await account({ json: { action: 'email', email: newEmail, current_password: PASSWORD }, cookies: here });
    expect(asked.statusCode).toBe(202);
    expect((await store.findUserById(user.id))?.email).toBe(user.email);
    expect(await mailsTo(user.email)).toEqual([{ template: 'email_change_notice', variables: { email: user.email, new_email: newEmail }, link: null }]);
    const [mail] = await mailsTo(newEmail);
    expect(mail?.template).toBe('email_change');

    const opened = await verify({ method: 'GET', path: mail!.link!.pathname, query: mail!.link!.search.slice(1), origin: null });
    expect([opened.statusCode, opened.headers?.Location]).toEqual([303, '/confirm']);
    const used = await verify({ method: 'POST', path: '/auth/verify', json: { token: mail!.link!.searchParams.get('token') } });
    expect([used.statusCode, body(used).user.email]).toEqual([200, newEmail]);
    expect((await store.findUserById(user.id))?.email).toBe(newEmail);
    expect((await login(newEmail, PASSWORD)).statusCode).toBe(200);
    expect(body(await login(user.email, PASSWORD)).error.code).toBe('invalid_credentials');
    const again = await verify({ method: 'POST', path: '/auth/verify', json: { token: mail!.link!.searchParams.get('token') } });
    expect(again.statusCode).toBe(410);
  });

  it('answers an address another account holds like a free one, and sends nothing', async () => {
    const user = await makeUser(store);
    const other = await makeUser(store);
    const here = await signedIn(user.email);
    const taken = await account({ json: { action: 'email', email: other.email, current_password: PASSWORD }, cookies: here });
    const free = await account({ json: { action: 'email', email: uniqueEmail('free'), current_password: PASSWORD }, cookies: here });
    expect([taken.statusCode, taken.body]).toEqual([free.statusCode, free.body]);
    expect(await mailsTo(other.email)).toEqual([]);
    expect((await store.findUserById(other.id))?.email).toBe(other.email);
  });

  it('leaves everything as it was when the new address was taken before the link was used', async () => {
    const user = await makeUser(store);
    const here = await signedIn(user.email);
    const newEmail = uniqueEmail('raced');
    await account({ json: { action: 'email', email: newEmail, current_password: PASSWORD }, cookies: here });
    const [mail] = (await mailsTo(newEmail));
    await makeUser(store, ['member'], newEmail);
    const used = await verify({ method: 'POST', path: '/auth/verify', json: { token: mail!.link!.searchParams.get('token') } });
    expect([used.statusCode, body(used).error.code]).toEqual([400, 'link_invalid']);
    expect((await store.findUserById(user.id))?.email).toBe(user.email);
    const events = await sql("select event from rolegate.audit_log where user_id = $1 and event = 'email_changed'", [user.id]);
    expect(events.rows).toEqual([]);
  });

  it('refuses the current address, a bad one and a wrong password, sending nothing', async () => {
    const user = await makeUser(store);
    const here = await signedIn(user.email);
    expect(body(await account({ json: { action: 'email', email: user.email.toUpperCase(), current_password: PASSWORD }, cookies: here })).error.code).toBe('bad_request');
    expect(body(await account({ json: { action: 'email', email: 'no at sign', current_password: PASSWORD }, cookies: here })).error.code).toBe('bad_request');
    const target = uniqueEmail('never');
    expect(body(await account({ json: { action: 'email', email: target, current_password: 'wrong wrong' }, cookies: here })).error.code).toBe('wrong_password');
    expect(await mailsTo(target)).toEqual([]);
    expect(await mailsTo(user.email)).toEqual([]);
  });
});
