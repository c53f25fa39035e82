import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recoverHandler, verifyHandler } from '../../src/auth/account-handlers.js';
import { loginHandler, refreshHandler } from '../../src/auth/handlers.js';
import type { AuthDeps } from '../../src/auth/deps.js';
import { Secret } from '../../src/core/secret.js';
import { bcryptHasher, type PasswordHasher } from '../../src/core/password.js';
import { openMailSecret } from '../../src/mail/seal.js';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import type { Store } from '../../src/store/store.js';
import { uniqueEmail } from '../store/contract.js';
import { PASSWORD, SECRET, SITE, body, cookieValues, event, makeDeps, makeUser, setCookies } from './support.js';

const NEW_PASSWORD = 'a brand new passphrase';

let store: Store;
let deps: AuthDeps;
let hashes = 0;
let kicks = 0;
const countingHasher: PasswordHasher = {
  hash: (password, cost) => { hashes += 1; return bcryptHasher.hash(password, cost); },
  compare: (password, hash) => bcryptHasher.compare(password, hash),
};

/** Fixture SQL on the embedded database (moving a token's clock). */
const sql = (text: string, values: unknown[]) => (store as unknown as { db: { db: PGlite } }).db.db.query(text, values);

beforeAll(async () => {
  store = await openEmbeddedStore({ dataDir: 'memory://' });
  deps = { ...makeDeps(store, { MAIL_MAX_PER_ADDRESS: '3' }), passwords: countingHasher, kickMail: async () => { kicks += 1; } };
});
afterAll(() => store.close());

const recover = (options: Parameters<typeof event>[0]) => recoverHandler(async () => deps)(event(options));
const verify = (options: Parameters<typeof event>[0]) => verifyHandler(async () => deps)(event(options));
const login = (email: string, password: string) => loginHandler(async () => deps)(event({ json: { email, password } }));

/** The link of the newest mail to `email`, read out of the outbox as delivery would. */
async function mailedLink(email: string): Promise<URL> {
  const mails = (await store.claimMail({ limit: 100, leaseSeconds: 1 })).filter((m) => m.recipient === email);
  const sealed = mails.at(-1)?.sealed;
  if (!sealed) throw new Error(`no mail to ${email}`);
  for (const m of mails) await store.finishMail({ id: m.id, sent: true });
  return new URL(JSON.parse(openMailSecret([new Secret(SECRET)], sealed)!).url);
}

/** Opens the link as a browser does and returns the cookie that carries its token on. */
async function openLink(link: URL): Promise<Record<string, string>> {
  const opened = await verify({ method: 'GET', path: link.pathname, query: link.search.slice(1), origin: null });
  expect(opened.statusCode).toBe(303);
  expect(opened.headers?.Location).toBe('/choose-password');
  return { rolegate_link: cookieValues(opened).rolegate_link! };
}

describe('forgot password: the request', () => {
  it('answers a known and an unknown address alike, and mails only the account', async () => {
    const user = await makeUser(store);
    const unknown = uniqueEmail('nobody');
    const kicksBefore = kicks;
    const known = await recover({ json: { email: user.email } });
    const other = await recover({ json: { email: unknown } });
    expect(known.statusCode).toBe(202);
    expect([other.statusCode, other.body, other.headers]).toEqual([known.statusCode, known.body, known.headers]);
    const link = await mailedLink(user.email);
    expect(link.origin + link.pathname).toBe(`${SITE}/auth/verify`);
    // Delivery is started after both, so neither answer waits on anything the other does not.
    expect(kicks - kicksBefore).toBe(2);
    expect(link.searchParams.get('token')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await expect(mailedLink(unknown)).rejects.toThrow(/no mail/);
  });

  it('sends a form to the check-your-email page, whatever the address', async () => {
    for (const email of [(await makeUser(store)).email, uniqueEmail('nobody')]) {
      const response = await recover({ form: { email } });
      expect([response.statusCode, response.headers?.Location]).toEqual([303, '/check-email?sent=recovery']);
    }
  });

  it('limits requests per address, known or not, with 429 and Retry-After (a form goes back with the reason)', async () => {
    for (const email of [(await makeUser(store)).email, uniqueEmail('nobody')]) {
      for (let i = 0; i < 3; i++) expect((await recover({ json: { email } })).statusCode).toBe(202);
      const refused = await recover({ json: { email } });
      expect(refused.statusCode).toBe(429);
      expect(Number(refused.headers?.['Retry-After'])).toBeGreaterThan(0);
      expect(body(refused).error.code).toBe('throttled');
      const form = await recover({ form: { email } });
      expect([form.statusCode, form.headers?.Location]).toEqual([303, '/forgot-password?error=throttled']);
    }
  });

  it('refuses another origin, a missing address and a malformed one, mailing nobody', async () => {
    const user = await makeUser(store);
    expect((await recover({ json: { email: user.email }, origin: 'https://evil.example' })).statusCode).toBe(403);
    for (const json of [{}, { email: 'not an address' }, { email: ['a@b.example'] }, { email: 'a\u0000@b.example' }]) {
      const response = await recover({ json });
      expect(response.statusCode).toBe(400);
      expect(body(response).error.code).toBe('bad_request');
    }
    await expect(mailedLink(user.email)).rejects.toThrow(/no mail/);
  });
});

describe('forgot password: the mailed link', () => {
  it('leads to the password page, sets the password, signs in and ends every other session', async () => {
    const user = await makeUser(store);
    const before = await login(user.email, PASSWORD);
    const oldRefresh = cookieValues(before)['__Host-rolegate_refresh']!;
    await recover({ form: { email: user.email } });
    const link = await mailedLink(user.email);

    const opened = await verify({ method: 'GET', path: link.pathname, query: link.search.slice(1), origin: null });
    expect(opened.headers?.['Referrer-Policy']).toBe('no-referrer');
    const linkCookies = setCookies(opened).filter((c) => c.startsWith('rolegate_link='));
    expect(linkCookies.map((c) => c.match(/Path=([^;]+)/)?.[1]).sort()).toEqual(['/.netlify/functions/verify', '/auth/verify']);
    for (const cookie of linkCookies) expect(cookie).toMatch(/HttpOnly/), expect(cookie).toMatch(/SameSite=Strict/), expect(cookie).toMatch(/Secure/);

    const chosen = await verify({ form: { password: NEW_PASSWORD, password_confirm: NEW_PASSWORD }, cookies: { rolegate_link: cookieValues(opened).rolegate_link! } });
    expect([chosen.statusCode, chosen.headers?.Location]).toEqual([303, '/']);
    const set = cookieValues(chosen);
    expect(set.nf_jwt).toBeTruthy();
    expect(set['__Host-rolegate_refresh']).toBeTruthy();
    expect(set.rolegate_link).toBe('');

    expect((await login(user.email, NEW_PASSWORD)).statusCode).toBe(200);
    expect((await login(user.email, PASSWORD)).statusCode).toBe(401);
    const oldSession = await refreshHandler(async () => deps)(event({ cookies: { '__Host-rolegate_refresh': oldRefresh } }));
    expect(oldSession.statusCode).toBe(401);
  });

  it('works for a script that sends the token itself, answering JSON', async () => {
    const user = await makeUser(store);
    await recover({ json: { email: user.email } });
    const token = (await mailedLink(user.email)).searchParams.get('token');
    const response = await verify({ json: { token, password: NEW_PASSWORD } });
    expect(response.statusCode).toBe(200);
    expect(body(response).user).toMatchObject({ id: user.id, email: user.email });
  });

  it('gives one success for one link used twice, and a clear page for the second', async () => {
    const user = await makeUser(store);
    await recover({ form: { email: user.email } });
    const link = await mailedLink(user.email);
    const cookies = await openLink(link);
    expect((await verify({ form: { password: NEW_PASSWORD }, cookies })).statusCode).toBe(303);
    const second = await verify({ form: { password: 'someone else entirely' }, cookies });
    expect(second.statusCode).toBe(410);
    expect(second.headers?.['Content-Type']).toMatch(/text\/html/);
    expect(second.body).toContain('This link was already used');
    expect(second.body).toContain('href="/forgot-password"');
    const reopened = await verify({ method: 'GET', path: link.pathname, query: link.search.slice(1), origin: null });
    expect([reopened.statusCode, reopened.headers?.['X-Rolegate-Error']]).toEqual([410, 'link_used']);
    expect((await login(user.email, NEW_PASSWORD)).statusCode).toBe(200);
  });

  it('lets exactly one of many simultaneous uses of a link through', async () => {
    const user = await makeUser(store);
    await recover({ json: { email: user.email } });
    const token = (await mailedLink(user.email)).searchParams.get('token');
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => verify({ json: { token, password: `${NEW_PASSWORD} ${i}` } })));
    expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 410, 410, 410, 410, 410]);
  });

  it('refuses an expired, a tampered and a made-up link with a page saying why, and does no bcrypt work for them', async () => {
    const user = await makeUser(store);
    await recover({ json: { email: user.email } });
    const link = await mailedLink(user.email);
    const token = link.searchParams.get('token')!;
    const tampered = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    const before = hashes;
    for (const [query, code, status] of [[`token=${tampered}`, 'link_invalid', 400], ['token=short', 'link_invalid', 400], ['', 'link_invalid', 400]] as const) {
      const page = await verify({ method: 'GET', path: '/auth/verify', query, origin: null });
      expect([page.statusCode, page.headers?.['X-Rolegate-Error']]).toEqual([status, code]);
      expect(page.body).toContain('This link does not work');
      const posted = await verify({ json: { token: query.slice(6), password: NEW_PASSWORD } });
      expect([posted.statusCode, body(posted).error.code]).toEqual([status, code]);
    }
    // Past its lifetime: moved in SQL rather than waited for.
    await sql(`update rolegate.email_tokens set expires_at = now() - interval '1 second' where user_id = $1`, [user.id]);
    const expired = await verify({ method: 'GET', path: link.pathname, query: link.search.slice(1), origin: null });
    expect([expired.statusCode, expired.headers?.['X-Rolegate-Error']]).toEqual([410, 'link_expired']);
    expect(expired.body).toContain('This link has expired');
    const late = await verify({ json: { token, password: NEW_PASSWORD } });
    expect([late.statusCode, body(late).error.code]).toEqual([410, 'link_expired']);
    expect(hashes).toBe(before);
    expect((await login(user.email, PASSWORD)).statusCode).toBe(200);
  });

  it('sends a weak or mismatched password back to the form with the link still good', async () => {
    const user = await makeUser(store);
    await recover({ form: { email: user.email } });
    const cookies = await openLink(await mailedLink(user.email));
    const weak = await verify({ form: { password: 'short' }, cookies });
    expect([weak.statusCode, weak.headers?.Location]).toEqual([303, '/choose-password?error=weak_password']);
    const mismatch = await verify({ form: { password: NEW_PASSWORD, password_confirm: 'something else' }, cookies });
    expect([mismatch.statusCode, mismatch.headers?.Location]).toEqual([303, '/choose-password?error=bad_request']);
    const json = await verify({ json: { password: 'short' }, cookies });
    expect([json.statusCode, body(json).error.code]).toEqual([422, 'weak_password']);
    expect((await verify({ form: { password: NEW_PASSWORD }, cookies })).statusCode).toBe(303);
  });

  it('refuses a post from another origin and changes nothing', async () => {
    const user = await makeUser(store);
    await recover({ json: { email: user.email } });
    const token = (await mailedLink(user.email)).searchParams.get('token');
    const response = await verify({ json: { token, password: NEW_PASSWORD }, origin: 'https://evil.example' });
    expect([response.statusCode, body(response).error.code]).toEqual([403, 'bad_origin']);
    expect((await login(user.email, PASSWORD)).statusCode).toBe(200);
    expect((await verify({ json: { token, password: NEW_PASSWORD } })).statusCode).toBe(200);
  });
});
