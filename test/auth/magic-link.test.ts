import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { magicLinkHandler, verifyHandler } from '../../src/auth/account-handlers.js';
import type { AuthDeps } from '../../src/auth/deps.js';
import { Secret } from '../../src/core/secret.js';
import { openMailSecret } from '../../src/mail/seal.js';
import { DEFAULT_ACCOUNT_SETTINGS } from '../../src/site-config/account-settings.js';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import type { Store } from '../../src/store/store.js';
import { uniqueEmail } from '../store/contract.js';
import { SECRET, body, cookieValues, event, makeDeps, makeUser } from './support.js';

let store: Store;
let off: AuthDeps;
let on: AuthDeps;
const sql = (text: string, values: unknown[]) => (store as unknown as { db: { db: PGlite } }).db.db.query<Record<string, unknown>>(text, values);

beforeAll(async () => {
  store = await openEmbeddedStore({ dataDir: 'memory://' });
  off = { ...makeDeps(store), kickMail: async () => {} };
  on = { ...off, accounts: { ...DEFAULT_ACCOUNT_SETTINGS, signInLinks: true } };
});
afterAll(() => store.close());

const ask = (deps: AuthDeps, options: Parameters<typeof event>[0]) => magicLinkHandler(async () => deps)(event({ path: '/auth/magic-link', ...options }));
const verify = (deps: AuthDeps, options: Parameters<typeof event>[0]) => verifyHandler(async () => deps)(event(options));

async function mailTo(email: string): Promise<{ template: string; token: string; lifetime: number } | undefined> {
  const rows = (await sql(`update rolegate.mail_outbox set sent_at = now() where recipient = $1 and sent_at is null returning template, sealed`, [email])).rows;
  if (!rows.length) return undefined;
  const { token } = JSON.parse(openMailSecret([new Secret(SECRET)], String(rows[0]!.sealed))!) as { token: string };
  const lifetime = (await sql(`select extract(epoch from expires_at - created_at)::int as s from rolegate.email_tokens where email = $1 and purpose = 'magic_link' order by created_at desc limit 1`, [email])).rows[0]?.s;
  return { template: String(rows[0]!.template), token, lifetime: Number(lifetime) };
}

describe('sign-in by emailed link', () => {
  it('is off unless the config turns it on: 403 sign_in_links_off, a form back to sign-in, nothing queued', async () => {
    const user = await makeUser(store);
    const json = await ask(off, { json: { email: user.email } });
    expect([json.statusCode, body(json).error.code]).toEqual([403, 'sign_in_links_off']);
    const form = await ask(off, { form: { email: user.email } });
    expect(form.headers?.Location).toBe('/login?error=sign_in_links_off');
    expect(await mailTo(user.email)).toBeUndefined();
  });

  it('answers a known and an unknown address alike, and mails the account a link that works once, for 15 minutes', async () => {
    const user = await makeUser(store);
    const known = await ask(on, { json: { email: user.email } });
    const unknown = await ask(on, { json: { email: uniqueEmail('nobody') } });
    expect(known.statusCode).toBe(202);
    expect([unknown.statusCode, unknown.body]).toEqual([known.statusCode, known.body]);
    const mail = await mailTo(user.email);
    expect(mail).toMatchObject({ template: 'magic_link', lifetime: 900 });

    const opened = await verify(on, { method: 'GET', path: '/auth/verify', query: `token=${mail!.token}`, origin: null });
    expect([opened.statusCode, opened.headers?.Location]).toEqual([303, '/confirm']);
    const link = { rolegate_link: cookieValues(opened).rolegate_link! };
    const signedIn = await verify(on, { method: 'POST', path: '/auth/verify', form: { next: '/members/' }, cookies: link });
    expect([signedIn.statusCode, signedIn.headers?.Location]).toEqual([303, '/members/']);
    expect(cookieValues(signedIn).nf_jwt).toBeTruthy();
    const again = await verify(on, { method: 'POST', path: '/auth/verify', form: {}, cookies: link });
    expect(again.statusCode).toBe(410);
  });

  it('refuses a link mailed before the config turned links off', async () => {
    const user = await makeUser(store);
    await ask(on, { json: { email: user.email } });
    const mail = await mailTo(user.email);
    const refused = await verify(off, { method: 'POST', path: '/auth/verify', json: { token: mail!.token } });
    expect([refused.statusCode, body(refused).error.code]).toEqual([400, 'link_invalid']);
    const opened = await verify(off, { method: 'GET', path: '/auth/verify', query: `token=${mail!.token}`, origin: null });
    expect(opened.statusCode).toBe(400);
    expect(cookieValues(refused).nf_jwt).toBeUndefined();
  });

  it('mails nothing to a disabled account, and limits requests per address', async () => {
    const disabled = await makeUser(store);
    await store.setUserDisabled(disabled.id, true);
    expect((await ask(on, { json: { email: disabled.email } })).statusCode).toBe(202);
    expect(await mailTo(disabled.email)).toBeUndefined();
    const user = await makeUser(store);
    const codes = [];
    for (let i = 0; i < 4; i += 1) codes.push((await ask(on, { json: { email: user.email } })).statusCode);
    expect(codes).toEqual([202, 202, 202, 429]);
  });
});
