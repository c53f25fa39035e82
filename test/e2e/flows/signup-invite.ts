/**
 * Signing up and being invited in a real browser: Debian's Chromium with JavaScript off
 * against the starter under `netlify dev` (the edge gate, the functions, the mail-background
 * function), a real PostgreSQL, and a real SMTP server in the test process that captures the
 * mail the site sends through SMTP_URL. The test reads each link out of the captured message,
 * and checks what each step left in the database (the user row, its sessions, its tokens).
 */
import pg from 'pg';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../../src/core/password.js';
import { openPostgresStore } from '../../../src/store/postgres.js';
import type { TestDatabase } from '../../support/databases.js';
import type { NetlifyDev } from '../../support/netlify-dev.js';
import type { CapturedMail, SmtpCapture } from '../../support/smtp-capture.js';
import { browserPool, nextMail as mailTo, submit, type AccountSite } from '../account-site.js';

const ADMIN_EMAIL = 'admin@example.com';
const ADMIN_PASSWORD = 'the admin passphrase of this site';
const SIGNUP_EMAIL = 'newcomer@example.com';
const SIGNUP_PASSWORD = 'a passphrase chosen at sign-up';
const INVITEE_EMAIL = 'invitee@example.com';
const INVITEE_PASSWORD = 'a passphrase chosen from the invitation';
/** What the starter's config grants a sign-up (accounts.newUserRoles), and the role the admin invites with instead. */
const SIGNUP_ROLES = ['member'];
const INVITED_ROLES = ['admin'];

const LINK = /http:\/\/localhost:\d+\/auth\/verify\?token=([A-Za-z0-9_-]{43})/;

interface UserRow {
  id: string;
  roles: string[];
  has_password: boolean;
  email_confirmed_at: Date | null;
}

/** Registers this flow's cases on the shared site (account-site.ts), started by test/e2e/accounts.test.ts. */
export function describeSignupInvite(shared: () => AccountSite): void {
  describe('sign-up and invitations in Chromium, with real mail', () => {
    let db: TestDatabase;
    let sql: pg.Pool;
    let dev: NetlifyDev;
    let smtp: SmtpCapture;
    const browsers = browserPool();
    const browser = () => browsers.context();
    const nextMail = (address: string, count: number) => mailTo(shared(), address, count);
    /** The sign-up's confirmation link, used by the first case and opened again by the later ones. */
    let signupLink: string | undefined;

    beforeAll(async () => {
      ({ smtp, db, dev } = shared());
      sql = new pg.Pool({ connectionString: db.url, max: 2 });
      const store = openPostgresStore({ connectionString: db.url });
      // A user made by the store is confirmed (email_confirmed_at defaults to now()), as an admin made with the CLI is.
      const admin = await store.createUser({ email: ADMIN_EMAIL, passwordHash: await hashPassword(ADMIN_PASSWORD, 10), roles: ['admin'] });
      await store.close();
      if (admin.status !== 'created') throw new Error('fixture admin not created');
    }, 120_000);

    afterAll(async () => {
      await browsers.closeAll();
      await sql?.end();
    });

    /** The link in a mail's text, checked to point at this site and to be the same in its HTML part. */
    function linkIn(mail: CapturedMail): string {
      const link = LINK.exec(mail.text)?.[0];
      expect(link, mail.text).toBeTruthy();
      expect(link!.startsWith(`${dev.url}/auth/verify?token=`)).toBe(true);
      expect(mail.html).toContain(link!);
      return link!;
    }

    async function userRow(email: string): Promise<UserRow | undefined> {
      const { rows } = await sql.query<UserRow>(
        'select id, roles, password_hash is not null as has_password, email_confirmed_at from rolegate.users where email = $1',
        [email],
      );
      return rows[0];
    }

    async function liveSessions(userId: string): Promise<number> {
      const { rows } = await sql.query<{ n: number }>('select count(*)::int as n from rolegate.sessions where user_id = $1 and revoked_at is null', [userId]);
      return rows[0]!.n;
    }

    /** The user's mailed tokens of `purpose`: whether each was used. */
    async function tokens(userId: string, purpose: string): Promise<Array<{ used: boolean }>> {
      const { rows } = await sql.query<{ used: boolean }>(
        'select used_at is not null as used from rolegate.email_tokens where user_id = $1 and purpose = $2 order by created_at',
        [userId, purpose],
      );
      return rows;
    }

    async function cookieNames(context: BrowserContext): Promise<string[]> {
      return (await context.cookies(dev.url)).map((c) => c.name);
    }

    async function signIn(page: Page, email: string, password: string): Promise<void> {
      await page.goto(`${dev.url}/login`);
      await page.fill('#email', email);
      await page.fill('#password', password);
      await submit(page);
    }

    it('a visitor signs up, cannot sign in before confirming, and the mailed link confirms the address and signs in as a member', async () => {
      const context = await browser();
      const page = await context.newPage();
      await page.goto(`${dev.url}/login`);
      await Promise.all([page.waitForURL((url) => url.pathname === '/signup'), page.click('a[href="/signup"]')]);
      await page.fill('#email', SIGNUP_EMAIL);
      await page.fill('#password', SIGNUP_PASSWORD);
      await page.fill('#password_confirm', SIGNUP_PASSWORD);
      await submit(page);
      const checkEmail = new URL(page.url());
      expect(checkEmail.pathname, await page.content()).toBe('/check-email');
      expect(checkEmail.searchParams.get('sent')).toBe('signup');
      expect(await page.textContent('h1')).toBe('Check your email');

      // The account exists with the configured roles and its password, unconfirmed and without a session.
      const user = await userRow(SIGNUP_EMAIL);
      expect(user).toMatchObject({ roles: SIGNUP_ROLES, has_password: true, email_confirmed_at: null });
      expect(await liveSessions(user!.id)).toBe(0);
      expect(await tokens(user!.id, 'signup')).toEqual([{ used: false }]);

      const mail = await nextMail(SIGNUP_EMAIL, 0);
      expect(mail.from).toContain('no-reply@example.com');
      expect(mail.subject).toBe('Confirm your address');
      signupLink = linkIn(mail);

      // Before the link is opened, the right password is refused as not confirmed.
      await signIn(page, SIGNUP_EMAIL, SIGNUP_PASSWORD);
      const refused = new URL(page.url());
      expect(refused.pathname).toBe('/login');
      expect(refused.searchParams.get('error')).toBe('email_not_confirmed');
      expect(await cookieNames(context)).not.toContain('nf_jwt');
      await page.goto(`${dev.url}/members/`);
      expect(new URL(page.url()).pathname).toBe('/login');
      expect(await liveSessions(user!.id)).toBe(0);

      // Opening the link leads to the confirm page and uses nothing yet (a mail scanner's fetch changes nothing).
      await page.goto(signupLink);
      expect(new URL(page.url()).pathname).toBe('/confirm');
      expect(await page.textContent('h1')).toBe('Confirm your address');
      const linkCookie = (await context.cookies(`${dev.url}/.netlify/functions/verify`)).find((c) => c.name === 'rolegate_link');
      expect(linkCookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
      expect(await tokens(user!.id, 'signup')).toEqual([{ used: false }]);
      expect((await userRow(SIGNUP_EMAIL))!.email_confirmed_at).toBeNull();

      // Pressing the button confirms and signs in.
      await submit(page);
      expect(new URL(page.url()).pathname, `${await page.content()}\n${JSON.stringify(await cookieNames(context))}`).toBe('/');
      expect(await cookieNames(context)).toContain('nf_jwt');
      const members = await page.goto(`${dev.url}/members/`);
      expect(new URL(page.url()).pathname).toBe('/members/');
      expect(members?.status()).toBe(200);
      expect(await page.textContent('h1')).toBe('Members area');

      const confirmed = await userRow(SIGNUP_EMAIL);
      expect(confirmed!.email_confirmed_at).toBeInstanceOf(Date);
      expect(confirmed!.roles).toEqual(SIGNUP_ROLES);
      expect(await liveSessions(user!.id)).toBe(1);
      expect(await tokens(user!.id, 'signup')).toEqual([{ used: true }]);
      expect((await context.cookies(`${dev.url}/.netlify/functions/verify`)).map((c) => c.name)).not.toContain('rolegate_link');
      // One mail: the confirmation; nothing else was sent for the refused sign-in.
      expect(smtp.to(SIGNUP_EMAIL)).toHaveLength(1);
    });

    it('the same confirmation link opened again says it was already used', async () => {
      expect(signupLink, 'the sign-up case found no link').toBeDefined();
      const page = await (await browser()).newPage();
      const response = await page.goto(signupLink!);
      expect(response?.status()).toBe(410);
      expect(new URL(page.url()).pathname).toBe('/auth/verify');
      expect(await page.textContent('h1')).toBe('This link was already used');
      expect(await cookieNames(page.context())).not.toContain('nf_jwt');
      // Still the one session from the first use.
      expect(await liveSessions((await userRow(SIGNUP_EMAIL))!.id)).toBe(1);
    });

    it('an admin invites an address, and the invitee chooses a password from the mail and is signed in with the invited role', async () => {
      const adminContext = await browser();
      const adminPage = await adminContext.newPage();
      await signIn(adminPage, ADMIN_EMAIL, ADMIN_PASSWORD);
      expect(new URL(adminPage.url()).pathname, await adminPage.content()).toBe('/');

      // The admin's session, from Node: every cookie the browser holds for the function, and the site's Origin.
      const inviteUrl = `${dev.url}/.netlify/functions/invite`;
      const cookie = (await adminContext.cookies(inviteUrl)).map((c) => `${c.name}=${c.value}`).join('; ');
      expect(cookie).toContain('nf_jwt=');
      const response = await fetch(inviteUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: dev.url, cookie },
        body: JSON.stringify({ email: INVITEE_EMAIL, roles: INVITED_ROLES }),
        redirect: 'manual',
      });
      const answer = (await response.json()) as { status: string; user: { id: string; email: string; roles: string[] } };
      expect(response.status, JSON.stringify(answer)).toBe(201);
      expect(answer).toMatchObject({ status: 'invited', user: { email: INVITEE_EMAIL, roles: INVITED_ROLES } });

      // The invitee exists with the invited roles, no password yet and an unconfirmed address.
      const invited = await userRow(INVITEE_EMAIL);
      expect(invited).toMatchObject({ id: answer.user.id, roles: INVITED_ROLES, has_password: false, email_confirmed_at: null });
      expect(await liveSessions(invited!.id)).toBe(0);
      expect(await tokens(invited!.id, 'invite')).toEqual([{ used: false }]);

      const mail = await nextMail(INVITEE_EMAIL, 0);
      expect(mail.subject).toBe("You've been invited");
      const link = linkIn(mail);

      const inviteeContext = await browser();
      const invitee = await inviteeContext.newPage();
      await invitee.goto(link);
      expect(new URL(invitee.url()).pathname).toBe('/choose-password');
      await invitee.fill('#password', INVITEE_PASSWORD);
      await invitee.fill('#password_confirm', INVITEE_PASSWORD);
      await submit(invitee);
      expect(new URL(invitee.url()).pathname, `${await invitee.content()}\n${JSON.stringify(await cookieNames(inviteeContext))}`).toBe('/');
      const adminArea = await invitee.goto(`${dev.url}/admin/`);
      expect(new URL(invitee.url()).pathname).toBe('/admin/');
      expect(adminArea?.status()).toBe(200);
      expect(await invitee.textContent('h1')).toBe('Admin area');

      // The password is set, the address confirmed by the mail, one session, the link used.
      const accepted = await userRow(INVITEE_EMAIL);
      expect(accepted).toMatchObject({ roles: INVITED_ROLES, has_password: true });
      expect(accepted!.email_confirmed_at).toBeInstanceOf(Date);
      expect(await liveSessions(invited!.id)).toBe(1);
      expect(await tokens(invited!.id, 'invite')).toEqual([{ used: true }]);

      // The chosen password signs in from another browser: the account is a normal one now.
      const laterPage = await (await browser()).newPage();
      await signIn(laterPage, INVITEE_EMAIL, INVITEE_PASSWORD);
      expect(new URL(laterPage.url()).pathname, laterPage.url()).toBe('/');
      expect(await liveSessions(invited!.id)).toBe(2);
    });

    it('a link with one character of its token changed gets a page that says it does not work', async () => {
      expect(signupLink, 'the sign-up case found no link').toBeDefined();
      const token = LINK.exec(signupLink!)![1]!;
      // The first character: every bit of it is the token's (the last one's low bits are padding).
      const tampered = `${token[0] === 'A' ? 'B' : 'A'}${token.slice(1)}`;
      const context = await browser();
      const page = await context.newPage();
      const response = await page.goto(`${dev.url}/auth/verify?token=${tampered}`);
      expect(response?.status()).toBe(400);
      expect(await page.textContent('h1')).toBe('This link does not work');
      expect(await page.getAttribute('a[href="/forgot-password"]', 'href')).toBe('/forgot-password');
      // No link cookie to carry on, no session.
      expect(await cookieNames(context)).toEqual([]);
    });
  });
}
