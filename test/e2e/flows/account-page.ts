/**
 * The account page in a real browser: Debian's Chromium with JavaScript off against the
 * starter under `netlify dev` (the edge gate, the functions, the mail-background function),
 * a real PostgreSQL, and a real SMTP server in the test process that captures the mail the
 * site sends through SMTP_URL. A signed-in member changes the password (every other session
 * ends, this one goes on) and then the address (a notice to the old one, a link to the new
 * one that moves the account); a form posted without a session goes to sign-in. Each step's
 * state is read back from the database.
 */
import pg from 'pg';
import type { Page, Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../../src/core/password.js';
import { openPostgresStore } from '../../../src/store/postgres.js';
import type { TestDatabase } from '../../support/databases.js';
import type { NetlifyDev } from '../../support/netlify-dev.js';
import type { SmtpCapture } from '../../support/smtp-capture.js';
import { browserPool, nextMail as mailTo, submit, type AccountSite } from '../account-site.js';

const OLD_EMAIL = 'member@example.com';
const NEW_EMAIL = 'member.moved@example.com';
const OLD_PASSWORD = 'the passphrase this member started with';
const NEW_PASSWORD = 'a passphrase chosen on the account page';

const LINK = /http:\/\/localhost:\d+\/auth\/verify\?token=[A-Za-z0-9_-]{43}/;
const PASSWORD_FORM = 'form:has(input[name=action][value=password])';
const EMAIL_FORM = 'form:has(input[name=action][value=email])';

interface UserRow {
  email: string;
  password_hash: string;
  token_version: number;
}

interface SessionRow {
  id: string;
  revoked_reason: string | null;
}

/** Registers this flow's cases on the shared site (account-site.ts), started by test/e2e/accounts.test.ts. */
export function describeAccountPage(shared: () => AccountSite): void {
  describe('the account page in Chromium, with real mail', () => {
    let db: TestDatabase;
    let sql: pg.Pool;
    let dev: NetlifyDev;
    let smtp: SmtpCapture;
    let userId: string;
    const browsers = browserPool();
    const browser = () => browsers.context();
    const nextMail = (address: string, count: number) => mailTo(shared(), address, count);
    /** Browser A: signed in in the first case, it changes the address in the second. */
    let pageA: Page | undefined;

    beforeAll(async () => {
      ({ smtp, db, dev } = shared());
      sql = new pg.Pool({ connectionString: db.url, max: 2 });
      const store = openPostgresStore({ connectionString: db.url });
      // A user made by the store is confirmed (email_confirmed_at defaults to now()).
      const created = await store.createUser({ email: OLD_EMAIL, passwordHash: await hashPassword(OLD_PASSWORD, 10), roles: ['member'] });
      await store.close();
      if (created.status !== 'created') throw new Error('fixture member not created');
      userId = created.user.id;
    }, 120_000);

    afterAll(async () => {
      await browsers.closeAll();
      await sql?.end();
    });

    async function userRow(): Promise<UserRow> {
      const { rows } = await sql.query<UserRow>('select email, password_hash, token_version from rolegate.users where id = $1', [userId]);
      return rows[0]!;
    }

    async function usersWithEmail(email: string): Promise<number> {
      const { rows } = await sql.query<{ n: number }>('select count(*)::int as n from rolegate.users where lower(email) = lower($1)', [email]);
      return rows[0]!.n;
    }

    /** The user's sessions in the order they were started, and why each ended (null while live). */
    async function sessions(): Promise<SessionRow[]> {
      const { rows } = await sql.query<SessionRow & { revoked: boolean }>(
        'select id, revoked_at is not null as revoked, revoked_reason from rolegate.sessions where user_id = $1 order by created_at, id',
        [userId],
      );
      return rows.map(({ id, revoked, revoked_reason }) => ({ id, revoked_reason: revoked ? (revoked_reason ?? 'revoked') : null }));
    }

    async function emailChangeTokens(): Promise<Array<{ used: boolean; email: string }>> {
      const { rows } = await sql.query<{ used: boolean; email: string }>(
        "select used_at is not null as used, email from rolegate.email_tokens where user_id = $1 and purpose = 'email_change' order by created_at",
        [userId],
      );
      return rows;
    }

    function url(page: Page): URL {
      return new URL(page.url());
    }

    async function signIn(page: Page, email: string, password: string): Promise<void> {
      await page.goto(`${dev.url}/login`);
      await page.fill('#email', email);
      await page.fill('#password', password);
      await submit(page);
    }

    /** A fresh browser signed in as `email`; fails the test unless the sign-in lands on the home page. */
    async function signedInPage(email: string, password: string): Promise<Page> {
      const page = await (await browser()).newPage();
      await signIn(page, email, password);
      expect(url(page).pathname, await page.content()).toBe('/');
      return page;
    }

    /** The paths a navigation went through, first to last (each 302 the browser followed, then the page). */
    function redirectChain(response: Response | null): string[] {
      const paths: string[] = [];
      for (let request = response?.request() ?? null; request; request = request.redirectedFrom()) paths.unshift(new URL(request.url()).pathname);
      return paths;
    }

    /** Who the browser's access token says it is, asked of the site's own function behind requireRole. */
    async function whoami(page: Page): Promise<{ status: number; email?: string }> {
      const response = await page.goto(`${dev.url}/.netlify/functions/whoami`);
      const status = response?.status() ?? 0;
      if (status !== 200) return { status };
      return { status, ...((await response!.json()) as { email: string }) };
    }

    it('changing the password needs the current one, ends the other browser\'s session, keeps this one, and only the new password signs in', async () => {
      const a = await signedInPage(OLD_EMAIL, OLD_PASSWORD);
      pageA = a;
      const b = await signedInPage(OLD_EMAIL, OLD_PASSWORD);
      const [sessionA, sessionB] = await sessions();
      expect([sessionA?.revoked_reason, sessionB?.revoked_reason]).toEqual([null, null]);
      const before = await userRow();

      // A wrong current password: back to the page with the reason, nothing changed.
      await a.goto(`${dev.url}/account`);
      await a.fill('#current_password', 'not the current passphrase');
      await a.fill('#password', NEW_PASSWORD);
      await a.fill('#password_confirm', NEW_PASSWORD);
      await submit(a, PASSWORD_FORM);
      expect(url(a).pathname, await a.content()).toBe('/account');
      expect(url(a).search).toBe('?error=wrong_password');
      expect(await userRow()).toEqual(before);
      expect(await sessions()).toEqual([sessionA, sessionB]);

      // The right one: done, and every other session ended.
      await a.fill('#current_password', OLD_PASSWORD);
      await a.fill('#password', NEW_PASSWORD);
      await a.fill('#password_confirm', NEW_PASSWORD);
      await submit(a, PASSWORD_FORM);
      expect(url(a).pathname, await a.content()).toBe('/account');
      expect(url(a).search).toBe('?done=password');
      expect(await a.textContent('h1')).toBe('Your account');
      const after = await userRow();
      expect(after.password_hash).not.toBe(before.password_hash);
      expect(after.email).toBe(OLD_EMAIL);
      expect(await sessions()).toEqual([sessionA, { id: sessionB!.id, revoked_reason: 'password_changed' }]);

      // B's access token would run out within minutes; without it the gate sends B to the
      // refresh function, whose refresh fails, and on to sign-in with the page to come back to.
      const refreshUrl = `${dev.url}/.netlify/functions/refresh`;
      const cookiesOfB = (await b.context().cookies(refreshUrl)).map((c) => `${c.name}=${c.value}`).join('; ');
      expect(cookiesOfB).toContain('__Host-rolegate_refresh=');
      await b.context().clearCookies({ name: 'nf_jwt' });
      const bounced = await b.goto(`${dev.url}/members/`);
      expect(redirectChain(bounced), JSON.stringify(redirectChain(bounced))).toEqual(['/members/', '/.netlify/functions/refresh/members/', '/login']);
      expect(url(b).search).toBe('?next=%2Fmembers%2F');
      expect((await b.context().cookies(dev.url)).map((c) => c.name)).not.toContain('__Host-rolegate_refresh');
      // The refresh cookie B held is dead in itself, not just deleted from B.
      const replay = await fetch(refreshUrl, { method: 'POST', headers: { origin: dev.url, cookie: cookiesOfB }, redirect: 'manual' });
      expect(replay.status, await replay.text()).toBe(401);
      expect(replay.headers.getSetCookie().filter((c) => c.startsWith('nf_jwt=') && !c.startsWith('nf_jwt=;'))).toEqual([]);

      // A goes on: even without its access token, its refresh cookie still works.
      await a.context().clearCookies({ name: 'nf_jwt' });
      const members = await a.goto(`${dev.url}/members/`);
      expect(url(a).pathname, JSON.stringify(redirectChain(members))).toBe('/members/');
      expect(members?.status()).toBe(200);
      expect(await a.textContent('h1')).toBe('Members area');
      expect((await sessions())[0]).toEqual(sessionA);

      // Elsewhere the old password no longer signs in; the new one does.
      const c = await (await browser()).newPage();
      await signIn(c, OLD_EMAIL, OLD_PASSWORD);
      expect(url(c).pathname).toBe('/login');
      expect(url(c).searchParams.get('error')).toBe('invalid_credentials');
      await signIn(c, OLD_EMAIL, NEW_PASSWORD);
      expect(url(c).pathname, await c.content()).toBe('/');
      expect((await sessions()).filter((s) => s.revoked_reason === null)).toHaveLength(2);
      // Changing the password sends no mail.
      expect(smtp.to(OLD_EMAIL)).toEqual([]);
    });

    it('changing the address tells the old one, mails a link to the new one, and the link moves the account and signs in as it', async () => {
      expect(pageA, 'the password case signed in no browser').toBeDefined();
      const a = pageA!;
      await a.goto(`${dev.url}/account`);
      await a.fill('#new_email', NEW_EMAIL);
      await a.fill('#email_current_password', NEW_PASSWORD);
      await submit(a, EMAIL_FORM);
      expect(url(a).pathname, await a.content()).toBe('/account');
      expect(url(a).search).toBe('?done=email');
      // Nothing moves until the link is used.
      expect((await userRow()).email).toBe(OLD_EMAIL);
      expect(await emailChangeTokens()).toEqual([{ used: false, email: NEW_EMAIL }]);

      // The old address: a notice, with no link in it.
      const notice = await nextMail(OLD_EMAIL, 0);
      expect(notice.subject).toBe('Your address is being changed');
      expect(notice.text).toContain(NEW_EMAIL);
      expect(`${notice.text}\n${notice.html}`).not.toMatch(/token=|\/auth\/verify/);
      expect(notice.raw).not.toMatch(/token=/);

      // The new address: the link.
      const mail = await nextMail(NEW_EMAIL, 0);
      expect(mail.subject).toBe('Confirm your new address');
      const link = LINK.exec(mail.text)?.[0];
      expect(link, mail.text).toBeTruthy();
      expect(link!.startsWith(`${dev.url}/auth/verify?token=`)).toBe(true);
      expect(mail.html).toContain(link!);

      // Opening it only leads to the confirm page; pressing its button moves the account.
      await a.goto(link!);
      expect(url(a).pathname).toBe('/confirm');
      expect(await a.textContent('h1')).toBe('Confirm your address');
      expect((await userRow()).email).toBe(OLD_EMAIL);
      expect(await emailChangeTokens()).toEqual([{ used: false, email: NEW_EMAIL }]);
      await submit(a);
      expect(url(a).pathname, await a.content()).toBe('/');
      expect(await whoami(a)).toMatchObject({ status: 200, email: NEW_EMAIL });
      expect((await userRow()).email).toBe(NEW_EMAIL);
      expect(await usersWithEmail(OLD_EMAIL)).toBe(0);
      expect(await emailChangeTokens()).toEqual([{ used: true, email: NEW_EMAIL }]);
      const members = await a.goto(`${dev.url}/members/`);
      expect(members?.status()).toBe(200);
      expect(url(a).pathname).toBe('/members/');

      // The old address no longer signs in; the new one does, with the same password.
      const c = await (await browser()).newPage();
      await signIn(c, OLD_EMAIL, NEW_PASSWORD);
      expect(url(c).pathname).toBe('/login');
      expect(url(c).searchParams.get('error')).toBe('invalid_credentials');
      await signIn(c, NEW_EMAIL, NEW_PASSWORD);
      expect(url(c).pathname, await c.content()).toBe('/');
      expect(await whoami(c)).toMatchObject({ status: 200, email: NEW_EMAIL });

      // The same link again: a page that says it was used, and the account stays where it is.
      const again = await (await browser()).newPage();
      const response = await again.goto(link!);
      expect(response?.status()).toBe(410);
      expect(await again.textContent('h1')).toBe('This link was already used');
      expect((await again.context().cookies(dev.url)).map((cookie) => cookie.name)).not.toContain('nf_jwt');
      expect((await userRow()).email).toBe(NEW_EMAIL);
      // One notice and one link, nothing more.
      expect(smtp.to(OLD_EMAIL)).toHaveLength(1);
      expect(smtp.to(NEW_EMAIL)).toHaveLength(1);
    });

    it('a form posted without a session goes to sign-in, to come back to the account page', async () => {
      const before = await userRow();
      const mailsBefore = smtp.mails.length;
      const page = await (await browser()).newPage();

      await page.goto(`${dev.url}/account`);
      await page.fill('#current_password', NEW_PASSWORD);
      await page.fill('#password', 'a passphrase nobody signed in chose');
      await page.fill('#password_confirm', 'a passphrase nobody signed in chose');
      await submit(page, PASSWORD_FORM);
      expect(url(page).pathname, await page.content()).toBe('/login');
      expect(url(page).search).toBe('?error=session_expired&next=%2Faccount');

      await page.goto(`${dev.url}/account`);
      await page.fill('#new_email', 'someone.else@example.com');
      await page.fill('#email_current_password', NEW_PASSWORD);
      await submit(page, EMAIL_FORM);
      expect(url(page).pathname, await page.content()).toBe('/login');
      expect(url(page).search).toBe('?error=session_expired&next=%2Faccount');

      expect(await userRow()).toEqual(before);
      expect(smtp.mails.length).toBe(mailsBefore);
    });
  });
}
