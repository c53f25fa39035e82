import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inviteHandler, signupHandler, verifyHandler } from '../../src/auth/account-handlers.js';
import type { AuthDeps } from '../../src/auth/deps.js';
import { loginHandler } from '../../src/auth/handlers.js';
import { bcryptHasher } from '../../src/core/password.js';
import { Secret } from '../../src/core/secret.js';
import { openMailSecret } from '../../src/mail/seal.js';
import { DEFAULT_ACCOUNT_SETTINGS, type AccountSettings } from '../../src/site-config/account-settings.js';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import type { Store } from '../../src/store/store.js';
import { uniqueEmail } from '../store/contract.js';
import { PASSWORD, SECRET, SITE, body, cookieValues, event, makeDeps, makeUser } from './support.js';

const NEW_PASSWORD = 'a brand new passphrase';

let store: Store;
let base: AuthDeps;
/** Open registration, new users get "member". */
let OPEN: AuthDeps;

/** Fixture SQL on the embedded database. */
const sql = (text: string, values: unknown[]) => (store as unknown as { db: { db: PGlite } }).db.db.query<Record<string, unknown>>(text, values);

beforeAll(async () => {
  store = await openEmbeddedStore({ dataDir: 'memory://' });
  base = { ...makeDeps(store, { MAIL_MAX_PER_ADDRESS: '3' }), kickMail: async () => {} };
  OPEN = depsWith({ registration: 'open', newUserRoles: ['member'] });
});
afterAll(() => store.close());

function depsWith(accounts: Partial<AccountSettings>): AuthDeps {
  return { ...base, accounts: { ...DEFAULT_ACCOUNT_SETTINGS, ...accounts } };
}

const signup = (deps: AuthDeps, options: Parameters<typeof event>[0]) => signupHandler(async () => deps)(event(options));
const verify = (options: Parameters<typeof event>[0]) => verifyHandler(async () => OPEN)(event(options));
const invite = (options: Parameters<typeof event>[0]) => inviteHandler(async () => OPEN)(event(options));
const login = (email: string, password: string) => loginHandler(async () => OPEN)(event({ json: { email, password } }));

/** The mails to `email` still in the outbox, in order, marked sent as delivery would. */
async function mailsTo(email: string): Promise<Array<{ template: string; link: URL | null }>> {
  const mails = (await store.claimMail({ limit: 100, leaseSeconds: 1 })).filter((m) => m.recipient === email);
  for (const m of mails) await store.finishMail({ id: m.id, sent: true });
  return mails.map((m) => ({ template: m.template, link: m.sealed ? new URL(JSON.parse(openMailSecret([new Secret(SECRET)], m.sealed)!).url) : null }));
}

async function userRow(email: string) {
  return (await sql('select email, roles, password_hash, email_confirmed_at from rolegate.users where email = $1', [email])).rows[0];
}

/** Opens a mailed link as a browser does: where it leads, and the cookie that carries its token on. */
async function openLink(link: URL): Promise<{ location: string; cookies: Record<string, string> }> {
  const opened = await verify({ method: 'GET', path: link.pathname, query: link.search.slice(1), origin: null });
  expect(opened.statusCode).toBe(303);
  return { location: String(opened.headers?.Location), cookies: { rolegate_link: cookieValues(opened).rolegate_link! } };
}

describe('sign-up: the registration policy', () => {
  it('is closed by default: 403 signup_disabled, a form goes back with the reason, and nothing is made', async () => {
    const email = uniqueEmail('closed');
    const closed = await signup(base, { json: { email, password: PASSWORD } });
    expect([closed.statusCode, body(closed).error.code]).toEqual([403, 'signup_disabled']);
    const form = await signup(base, { form: { email, password: PASSWORD } });
    expect([form.statusCode, form.headers?.Location]).toEqual([303, '/signup?error=signup_disabled']);
    const byInvitation = await signup(depsWith({ registration: 'invite' }), { json: { email, password: PASSWORD } });
    expect([byInvitation.statusCode, body(byInvitation).error.code, body(byInvitation).error.message]).toEqual([403, 'signup_disabled', 'Sign-up here is by invitation only.']);
    expect(await userRow(email)).toBeUndefined();
    expect(await mailsTo(email)).toEqual([]);
  });

  it('takes only the allowed domains, exactly', async () => {
    const deps = depsWith({ registration: 'open', allowedDomains: ['example.com'] });
    for (const email of ['eve@evil.test', 'eve@mail.example.com', 'eve@example.com.evil.test']) {
      const refused = await signup(deps, { json: { email, password: PASSWORD } });
      expect([refused.statusCode, body(refused).error.code], email).toEqual([403, 'email_not_allowed']);
      expect(await userRow(email)).toBeUndefined();
    }
    const email = `ada-${Date.now()}@example.com`;
    expect((await signup(deps, { json: { email, password: PASSWORD } })).statusCode).toBe(202);
  });

  it('refuses a weak password or a bad address with 4xx before anything is stored', async () => {
    const email = uniqueEmail('weak');
    const weak = await signup(OPEN, { json: { email, password: 'short' } });
    expect([weak.statusCode, body(weak).error.code]).toEqual([422, 'weak_password']);
    const bad = await signup(OPEN, { json: { email: 'not an address', password: PASSWORD } });
    expect([bad.statusCode, body(bad).error.code]).toEqual([400, 'bad_request']);
    const mismatch = await signup(OPEN, { form: { email, password: PASSWORD, password_confirm: 'something else' } });
    expect(mismatch.headers?.Location).toBe('/signup?error=bad_request');
    expect(await userRow(email)).toBeUndefined();
  });

  it('refuses a post from another site', async () => {
    const email = uniqueEmail('csrf');
    const response = await signup(OPEN, { json: { email, password: PASSWORD }, origin: 'https://evil.test' });
    expect([response.statusCode, body(response).error.code]).toEqual([403, 'bad_origin']);
    expect(await userRow(email)).toBeUndefined();
  });
});

describe('sign-up: confirmation', () => {
  it('makes an unconfirmed account with the configured roles, mails a link, and refuses to sign it in before the link is used', async () => {
    const email = uniqueEmail('signup');
    const response = await signup(OPEN, { json: { email, password: PASSWORD } });
    expect(response.statusCode).toBe(202);
    expect(await userRow(email)).toMatchObject({ roles: ['member'], email_confirmed_at: null });
    const [mail] = await mailsTo(email);
    expect(mail?.template).toBe('signup');
    expect(mail?.link?.origin + mail!.link!.pathname).toBe(`${SITE}/auth/verify`);

    const early = await login(email, PASSWORD);
    expect([early.statusCode, body(early).error.code]).toEqual([403, 'email_not_confirmed']);
    // A wrong password learns nothing about the account's state.
    expect(body(await login(email, 'wrong wrong wrong')).error.code).toBe('invalid_credentials');
  });

  it('opens the link to the confirm page without using it; the page\'s button confirms and signs in; the link works once', async () => {
    const email = uniqueEmail('confirm');
    await signup(OPEN, { form: { email, password: PASSWORD } });
    const [mail] = await mailsTo(email);
    const opened = await openLink(mail!.link!);
    expect(opened.location).toBe('/confirm');
    // Opening twice (a mail scanner, then the person) uses nothing up.
    expect((await openLink(mail!.link!)).location).toBe('/confirm');

    const confirmed = await verify({ method: 'POST', path: '/auth/verify', form: { next: '/members/' }, cookies: opened.cookies });
    expect([confirmed.statusCode, confirmed.headers?.Location]).toEqual([303, '/members/']);
    expect(cookieValues(confirmed)).toMatchObject({ nf_jwt: expect.any(String), rolegate_link: '' });
    expect((await userRow(email))?.email_confirmed_at).not.toBeNull();

    const again = await verify({ method: 'POST', path: '/auth/verify', form: {}, cookies: opened.cookies });
    expect([again.statusCode, again.headers?.['Content-Type']]).toEqual([410, 'text/html; charset=utf-8']);
    expect(again.body).toContain('This link was already used');
    // A sign-up's dead link offers signing up again (which mails a new link), not password recovery.
    expect(again.body).toContain('href="/signup"');
    expect((await login(email, PASSWORD)).statusCode).toBe(200);
  });

  it('gives two concurrent uses of one link one success', async () => {
    const email = uniqueEmail('race');
    await signup(OPEN, { json: { email, password: PASSWORD } });
    const [mail] = await mailsTo(email);
    const token = mail!.link!.searchParams.get('token');
    const answers = await Promise.all([0, 1, 2].map(() => verify({ method: 'POST', path: '/auth/verify', json: { token } })));
    expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 410, 410]);
    const sessions = await sql('select count(*)::int as n from rolegate.sessions s join rolegate.users u on u.id = s.user_id where u.email = $1', [email]);
    expect(sessions.rows[0]?.n).toBe(1);
  });

  it('answers an address that has an account exactly like a new one, changes nothing of it, and mails its owner a notice without a link', async () => {
    const owner = await makeUser(store);
    const fresh = uniqueEmail('fresh');
    const before = await userRow(owner.email);
    // The same work for both: one bcrypt hash each, counted.
    const hashes: string[] = [];
    const counting: AuthDeps = { ...OPEN, passwords: { hash: (p, cost) => { hashes.push(p); return bcryptHasher.hash(p, cost); }, compare: bcryptHasher.compare } };
    const known = await signup(counting, { json: { email: owner.email, password: NEW_PASSWORD } });
    const knownHashes = hashes.length;
    const unknown = await signup(counting, { json: { email: fresh, password: NEW_PASSWORD } });
    expect([knownHashes, hashes.length]).toEqual([1, 2]);
    expect([known.statusCode, known.body, known.headers]).toEqual([unknown.statusCode, unknown.body, unknown.headers]);
    expect(await userRow(owner.email)).toEqual(before);
    expect(await mailsTo(owner.email)).toEqual([{ template: 'signup_existing', link: null }]);
    expect((await login(owner.email, PASSWORD)).statusCode).toBe(200);
    expect(body(await login(owner.email, NEW_PASSWORD)).error.code).toBe('invalid_credentials');
  });

  it('a second sign-up before the first is confirmed keeps neither password: the mailbox alone chooses one', async () => {
    const email = uniqueEmail('again');
    await signup(OPEN, { json: { email, password: PASSWORD } });
    const [first] = await mailsTo(email);
    // Someone else (an attacker who knows the address, say) signs up for it too.
    const again = await signup(OPEN, { json: { email, password: NEW_PASSWORD } });
    expect(again.statusCode).toBe(202);
    const [second] = await mailsTo(email);
    expect(second?.template).toBe('signup_pending');
    expect((await userRow(email))?.password_hash).toBeNull();
    const old = await verify({ method: 'POST', path: '/auth/verify', json: { token: first!.link!.searchParams.get('token') } });
    expect(old.statusCode).toBe(410);
    for (const password of [PASSWORD, NEW_PASSWORD]) expect(body(await login(email, password)).error.code).toBe('invalid_credentials');
    expect((await openLink(second!.link!)).location).toBe('/choose-password');
    const chosen = 'the mailbox owner chose this';
    expect((await verify({ method: 'POST', path: '/auth/verify', json: { token: second!.link!.searchParams.get('token'), password: chosen } })).statusCode).toBe(200);
    expect((await login(email, chosen)).statusCode).toBe(200);
    expect((await userRow(email))?.roles).toEqual(['member']);
  });

  it('limits sign-ups per address with 429 and Retry-After', async () => {
    const email = uniqueEmail('bomb');
    const answers = [];
    for (let i = 0; i < 4; i += 1) answers.push(await signup(OPEN, { json: { email, password: PASSWORD } }));
    expect(answers.map((a) => a.statusCode)).toEqual([202, 202, 202, 429]);
    expect(Number(answers[3]!.headers?.['Retry-After'])).toBeGreaterThan(0);
    expect((await mailsTo(email)).length).toBe(3);
  });

  it('without confirmation asked, signs a new account in at once; a known address still only gets a mail', async () => {
    const deps = depsWith({ registration: 'open', requireConfirmation: false });
    const email = uniqueEmail('instant');
    const response = await signup(deps, { json: { email, password: PASSWORD } });
    expect(response.statusCode).toBe(200);
    expect(body(response).user).toMatchObject({ email, roles: [] });
    expect(cookieValues(response).nf_jwt).toBeTruthy();
    const owner = await makeUser(store);
    const known = await signup(deps, { json: { email: owner.email, password: NEW_PASSWORD } });
    expect([known.statusCode, cookieValues(known).nf_jwt]).toEqual([202, undefined]);
    expect((await login(owner.email, PASSWORD)).statusCode).toBe(200);
  });

  it('without confirmation asked, never hands a stranger an invited account', async () => {
    const deps = depsWith({ registration: 'open', requireConfirmation: false });
    const admin = await signedInAdmin();
    const email = uniqueEmail('invitee');
    expect((await invite({ json: { email }, cookies: admin })).statusCode).toBe(201);
    const taken = await signup(deps, { json: { email, password: NEW_PASSWORD } });
    expect(taken.statusCode).toBe(202);
    expect((await userRow(email))?.password_hash).toBeNull();
  });
});

async function signedInAdmin(): Promise<Record<string, string>> {
  const admin = await makeUser(store, ['admin']);
  return cookieValues(await login(admin.email, PASSWORD));
}

describe('invitations', () => {
  it('needs a signed-in admin: 401 without a session, 403 for a member, nothing made', async () => {
    const email = uniqueEmail('nobody-invites');
    const anonymous = await invite({ json: { email } });
    expect([anonymous.statusCode, body(anonymous).error.code]).toEqual([401, 'unauthenticated']);
    const member = await makeUser(store, ['member']);
    const asMember = await invite({ json: { email }, cookies: cookieValues(await login(member.email, PASSWORD)) });
    expect([asMember.statusCode, body(asMember).error.code]).toEqual([403, 'forbidden']);
    const crossSite = await invite({ json: { email }, cookies: await signedInAdmin(), origin: 'https://evil.test' });
    expect([crossSite.statusCode, body(crossSite).error.code]).toEqual([403, 'bad_origin']);
    expect(await userRow(email)).toBeUndefined();
  });

  it('makes a passwordless user with the roles given and mails a link that leads to choosing a password and signs in', async () => {
    const admin = await signedInAdmin();
    const email = uniqueEmail('invited');
    const response = await invite({ json: { email, roles: ['editor', 'member'] }, cookies: admin });
    expect([response.statusCode, body(response).status, body(response).user.roles]).toEqual([201, 'invited', ['editor', 'member']]);
    expect(await userRow(email)).toMatchObject({ password_hash: null, email_confirmed_at: null });
    const [mail] = await mailsTo(email);
    expect(mail?.template).toBe('invite');
    // No password yet: a login fails like any wrong password.
    expect(body(await login(email, PASSWORD)).error.code).toBe('invalid_credentials');

    const opened = await openLink(mail!.link!);
    expect(opened.location).toBe('/choose-password');
    const noPassword = await verify({ method: 'POST', path: '/auth/verify', form: {}, cookies: opened.cookies });
    expect(noPassword.headers?.Location).toBe('/choose-password?error=bad_request');
    const accepted = await verify({ method: 'POST', path: '/auth/verify', form: { password: NEW_PASSWORD, password_confirm: NEW_PASSWORD }, cookies: opened.cookies });
    expect([accepted.statusCode, accepted.headers?.Location]).toEqual([303, '/']);
    expect((await userRow(email))?.email_confirmed_at).not.toBeNull();
    expect((await login(email, NEW_PASSWORD)).statusCode).toBe(200);
    const audit = await sql("select detail from rolegate.audit_log a join rolegate.users u on u.id = a.user_id where u.email = $1 and a.event = 'user_invited'", [email]);
    expect(audit.rows[0]?.detail).toMatchObject({ invited_by: expect.any(String) });
  });

  it('resends to someone who never chose a password (the old link stops working), and refuses an account with one', async () => {
    const admin = await signedInAdmin();
    const email = uniqueEmail('resend');
    await invite({ json: { email }, cookies: admin });
    const [first] = await mailsTo(email);
    const resent = await invite({ json: { email, roles: ['ignored'] }, cookies: admin });
    // The first invitation named no roles, so it gave the configured ones; a resend keeps them.
    expect([resent.statusCode, body(resent).status, body(resent).user.roles]).toEqual([200, 'resent', ['member']]);
    const [second] = await mailsTo(email);
    expect((await verify({ method: 'POST', path: '/auth/verify', json: { token: first!.link!.searchParams.get('token'), password: NEW_PASSWORD } })).statusCode).toBe(410);
    expect((await verify({ method: 'POST', path: '/auth/verify', json: { token: second!.link!.searchParams.get('token'), password: NEW_PASSWORD } })).statusCode).toBe(200);
    const existing = await invite({ json: { email }, cookies: admin });
    expect([existing.statusCode, body(existing).error.code]).toEqual([409, 'user_exists']);
    expect(await mailsTo(email)).toEqual([]);
  });

  it('answers the admin page\'s form with that page (?done= or ?error=), and a form without an admin\'s session with sign-in', async () => {
    const admin = await signedInAdmin();
    const email = uniqueEmail('form-invite');
    const sent = await invite({ form: { email, roles: 'member, editor', next: '/admin/' }, cookies: admin });
    expect([sent.statusCode, sent.headers?.Location]).toEqual([303, '/admin/?done=invited']);
    expect((await userRow(email))?.roles).toEqual(['member', 'editor']);
    const owner = await makeUser(store);
    const exists = await invite({ form: { email: owner.email, next: '/admin/' }, cookies: admin });
    expect(exists.headers?.Location).toBe('/admin/?error=user_exists');
    const anonymous = await invite({ form: { email: uniqueEmail('nobody'), next: '/admin/' } });
    expect(anonymous.headers?.Location).toBe('/login?next=%2Fadmin%2F');
    const offsite = await invite({ form: { email: uniqueEmail('offsite'), next: 'https://evil.test/' }, cookies: admin });
    expect(offsite.headers?.Location).toBe('/?done=invited');
  });

  it('takes no invitation from an admin disabled or signed out since their access token was issued', async () => {
    const admin = await makeUser(store, ['admin']);
    const cookies = cookieValues(await login(admin.email, PASSWORD));
    await store.setUserDisabled(admin.id, true);
    const email = uniqueEmail('after-disable');
    const refused = await invite({ json: { email }, cookies });
    expect([refused.statusCode, body(refused).error.code]).toEqual([401, 'session_expired']);
    expect(await userRow(email)).toBeUndefined();
    expect(await mailsTo(email)).toEqual([]);
  });

  it('refuses bad roles with 400 and nothing made', async () => {
    const admin = await signedInAdmin();
    const email = uniqueEmail('badroles');
    for (const roles of ['a,,b c', ['x y'], [1], Array.from({ length: 40 }, (_, i) => `r${i}`), { admin: true }]) {
      const response = await invite({ json: { email, roles }, cookies: admin });
      expect([response.statusCode, body(response).error.code], JSON.stringify(roles)).toEqual([400, 'bad_request']);
    }
    expect(await userRow(email)).toBeUndefined();
  });
});
