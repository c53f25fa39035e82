/**
 * Netlify's own login widget on rolegate: the published `netlify-identity-widget` (its
 * standalone build, unmodified) in Debian's Chromium with JavaScript on, against the starter
 * under `netlify dev` with the Identity-compatible API turned on (`/auth/identity/*`), a real
 * PostgreSQL and a real SMTP server in the test process. Everything is done through the
 * widget's own UI (its controls on the page, its modal in the `#netlify-identity-widget`
 * iframe) and the links in the captured mail, which open the page that loads the widget with
 * `#confirmation_token=…` / `#recovery_token=…`, as Identity's links do. The gate sees the
 * `nf_jwt` the widget itself sets with document.cookie (on localhost it asks for no server
 * cookie); the database shows what each step changed.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { BrowserContext, Frame, FrameLocator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../src/core/password.js';
import { openBrowser, type BrowserSession } from '../support/browser.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { startNetlifyDev, type NetlifyDev } from '../support/netlify-dev.js';
import { startSmtpCapture, type CapturedMail, type SmtpCapture } from '../support/smtp-capture.js';
import { fixture, identitySite, type IdentitySite } from '../fixtures/identity-clients/identity-site.js';

const NAME = 'Widget Newcomer';
const EMAIL = 'widget-user@example.com';
const PASSWORD = 'a passphrase typed into the widget';
const NEW_PASSWORD = 'a passphrase chosen after forgetting';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');

/** Text the widget shows (its English strings). */
const TEXT = {
  loggedInAs: 'Logged in as',
  confirmSent: 'A confirmation message was sent to your email',
  recoverySent: "We've sent a recovery email to your account",
};

interface UserRow {
  id: string;
  roles: string[];
  password_hash: string | null;
  email_confirmed_at: Date | null;
  user_metadata: Record<string, unknown>;
}

describe('netlify-identity-widget in Chromium against the Identity-compatible API', () => {
  let db: TestDatabase;
  let sql: pg.Pool;
  let site: IdentitySite;
  let dev: NetlifyDev;
  let smtp: SmtpCapture;
  let session: BrowserSession;
  let context: BrowserContext;
  /** Every request the pages made to the API, and its answer's status: `POST /token 200`. */
  const apiCalls: string[] = [];

  beforeAll(async () => {
    smtp = await startSmtpCapture();
    db = await createTestDatabase();
    sql = new pg.Pool({ connectionString: db.url, max: 2 });
    site = await identitySite();
    // The linkPage ("/" by default) is the page that loads the widget.
    site.publish('index.html', fixture('widget.html'));
    dev = await startNetlifyDev({ DATABASE_URL: db.url, BCRYPT_COST: '10', SMTP_URL: smtp.url, MAIL_FROM: 'Starter <no-reply@example.com>' }, site.root);
    session = await openBrowser();
    context = session.context;
    context.on('response', (response) => {
      const url = new URL(response.url());
      if (url.pathname.startsWith('/auth/identity/')) apiCalls.push(`${response.request().method()} ${url.pathname.slice('/auth/identity'.length)} ${response.status()}`);
    });
  }, 120_000);

  afterAll(async () => {
    await session?.close();
    await dev?.stop();
    site?.remove();
    await sql?.end();
    await db?.drop();
    await smtp?.stop();
  });

  /** The widget's modal: its iframe, once the widget made it. */
  function modal(page: Page): FrameLocator {
    return page.frameLocator('#netlify-identity-widget');
  }

  /** The home page with the widget loaded (its controls rendered, its iframe attached). */
  async function home(page: Page, path = '/'): Promise<void> {
    await page.goto(`${dev.url}${path}`);
    await page.locator('.netlify-identity-menu').waitFor();
    await page.locator('#netlify-identity-widget').waitFor({ state: 'attached' });
  }

  /** Waits until the modal is open and shows `text` (the iframe is shown with display:block). */
  async function modalShows(page: Page, text: string | RegExp): Promise<void> {
    await page.waitForFunction(() => document.getElementById('netlify-identity-widget')?.style.display.startsWith('block'));
    await modal(page).getByText(text).first().waitFor({ timeout: 15_000 }).catch(async (error: unknown) => {
      throw new Error(`the widget did not show ${String(text)}: ${await widgetText(page)}\nAPI calls: ${apiCalls.join(', ')}\n${String(error)}`);
    });
  }

  async function widgetText(page: Page): Promise<string> {
    const frame: Frame | null = await (await page.$('#netlify-identity-widget'))?.contentFrame() ?? null;
    return frame ? frame.evaluate(() => document.body.innerText) : '(no widget iframe)';
  }

  async function userRow(email: string): Promise<UserRow | undefined> {
    const { rows } = await sql.query<UserRow>('select id, roles, password_hash, email_confirmed_at, user_metadata from rolegate.users where email = $1', [email]);
    return rows[0];
  }

  async function liveSessions(userId: string): Promise<number> {
    const { rows } = await sql.query<{ n: number }>('select count(*)::int as n from rolegate.sessions where user_id = $1 and revoked_at is null', [userId]);
    return rows[0]!.n;
  }

  /** The mail sent to `address` after `count` earlier ones. */
  async function nextMail(address: string, count: number): Promise<CapturedMail> {
    const deadline = Date.now() + 30_000;
    while (smtp.to(address).length <= count) {
      if (Date.now() > deadline) throw new Error(`no mail to ${address} within 30 s\n${dev.output().slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return smtp.to(address)[count]!;
  }

  /** The widget-style link in a mail (`<site>/#<kind>_token=…`), the same in its HTML part. */
  function linkIn(mail: CapturedMail, kind: 'confirmation' | 'recovery'): string {
    const pattern = new RegExp(`http://localhost:\\d+/#${kind}_token=[A-Za-z0-9_-]{43}`);
    const link = pattern.exec(mail.text)?.[0];
    expect(link, mail.text).toBeTruthy();
    expect(link!.startsWith(`${dev.url}/#${kind}_token=`)).toBe(true);
    expect(mail.html).toContain(link!);
    return link!;
  }

  async function jwtCookie(): Promise<{ value: string; httpOnly: boolean } | undefined> {
    return (await context.cookies(dev.url)).find((c) => c.name === 'nf_jwt');
  }

  /** The gated members page: served (200), or bounced to the login page. */
  async function membersPath(page: Page): Promise<string> {
    await page.goto(`${dev.url}/members/`);
    return new URL(page.url()).pathname;
  }

  async function logIn(page: Page, email: string, password: string): Promise<void> {
    await home(page);
    await page.click('.netlify-identity-login');
    await modalShows(page, 'Forgot password?');
    const form = modal(page);
    await form.locator('input[name=email]').fill(email);
    await form.locator('input[name=password]').fill(password);
    await form.locator('button[type=submit]').click();
  }

  async function logOut(page: Page): Promise<void> {
    await home(page);
    await page.click('.netlify-identity-logout');
    await modalShows(page, TEXT.loggedInAs);
    await modal(page).locator('button[type=submit]', { hasText: 'Log out' }).click();
    // Signed out, the widget's modal turns to its login form.
    await modalShows(page, 'Forgot password?');
    await page.locator('.netlify-identity-login').waitFor();
    expect(await page.textContent('#current-user')).toBe('');
  }

  it('signs up in the widget, confirms from the mailed link, and the widget is signed in as a member the gate lets through', async () => {
    const page = await context.newPage();
    await home(page);
    // Anonymous: the gate bounces /members/ to the login page.
    expect(await membersPath(page)).toBe('/login');

    await home(page);
    await page.click('.netlify-identity-signup');
    await modalShows(page, 'Sign up');
    const form = modal(page);
    await form.locator('input[name=name]').fill(NAME);
    await form.locator('input[name=email]').fill(EMAIL);
    await form.locator('input[name=password]').fill(PASSWORD);
    await form.locator('button[type=submit]').click();
    // The API says the address needs confirming (settings.autoconfirm false), so the widget asks to check the mail.
    await modalShows(page, TEXT.confirmSent);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'identity-widget-signup.png') });

    const created = await userRow(EMAIL);
    // The name the form sent as data.full_name is the new account's user_metadata, as Identity keeps it.
    expect(created).toMatchObject({ roles: ['member'], email_confirmed_at: null, user_metadata: { full_name: NAME } });
    expect(await verifyPassword(PASSWORD, created!.password_hash!)).toBe(true);
    expect(await liveSessions(created!.id)).toBe(0);
    expect(await jwtCookie()).toBeUndefined();

    const mail = await nextMail(EMAIL, 0);
    const link = linkIn(mail, 'confirmation');

    // The link opens the widget's page; the widget reads the token from the fragment and confirms.
    const opened = await context.newPage();
    await opened.goto(link);
    await modalShows(opened, TEXT.loggedInAs);
    // The widget names the user from user_metadata.full_name (GET /user).
    expect(await modal(opened).locator('.infoTextEmail').textContent()).toBe(NAME);
    await opened.waitForFunction((email) => document.getElementById('current-user')?.textContent === email, EMAIL);
    // The widget cleared the token from the address bar.
    expect(new URL(opened.url()).hash).toBe('');
    await opened.screenshot({ path: join(ARTIFACTS, 'identity-widget-confirmed.png') });

    const confirmed = await userRow(EMAIL);
    expect(confirmed!.email_confirmed_at).toBeInstanceOf(Date);
    expect(await liveSessions(confirmed!.id)).toBe(1);
    // The widget's own cookie (document.cookie, so not HttpOnly) carries the access token with the roles.
    const cookie = await jwtCookie();
    expect(cookie).toMatchObject({ httpOnly: false });
    const claims = JSON.parse(Buffer.from(cookie!.value.split('.')[1]!, 'base64url').toString()) as { email: string; app_metadata: { roles: string[]; authorization: { roles: string[] } } };
    expect(claims).toMatchObject({ email: EMAIL, app_metadata: { roles: ['member'], authorization: { roles: ['member'] } } });

    expect(await membersPath(opened)).toBe('/members/');
    expect(await opened.textContent('h1')).toBe('Members area');
    // A member is not an admin: /admin/ stays shut (the forbidden page, or the login page).
    await opened.goto(`${dev.url}/admin/`);
    expect(await opened.textContent('h1')).not.toBe('Admin area');
    expect(apiCalls).toEqual(expect.arrayContaining(['GET /settings 200', 'POST /signup 200', 'POST /verify 200', 'GET /user 200']));
    await opened.close();
    await page.close();
  }, 60_000);

  it('logs out in the widget (the session ends, the gate shuts) and logs in again through its login form', async () => {
    const user = (await userRow(EMAIL))!;
    const page = await context.newPage();
    await logOut(page);
    expect(await jwtCookie()).toBeUndefined();
    expect(await liveSessions(user.id)).toBe(0);
    expect(await membersPath(page)).toBe('/login');
    expect(apiCalls).toContain('POST /logout 204');

    await logIn(page, EMAIL, PASSWORD);
    await modalShows(page, TEXT.loggedInAs);
    await page.waitForFunction((email) => document.getElementById('current-user')?.textContent === email, EMAIL);
    expect(apiCalls).toContain('POST /token 200');
    expect(await liveSessions(user.id)).toBe(1);
    expect(await membersPath(page)).toBe('/members/');

    // The widget's refresh (what Decap and other clients call through netlifyIdentity.refresh / user.jwt):
    // POST /token grant_type=refresh_token hands out a new refresh token in the same session.
    await home(page);
    const refreshToken = () => page.evaluate(() => (window as unknown as { netlifyIdentity: { currentUser(): { token: { refresh_token: string } } } }).netlifyIdentity.currentUser().token.refresh_token);
    const before = await refreshToken();
    const refreshed = await page.evaluate(() => (window as unknown as { netlifyIdentity: { refresh(force: boolean): Promise<string> } }).netlifyIdentity.refresh(true));
    expect(await refreshToken()).not.toBe(before);
    expect(JSON.parse(Buffer.from(refreshed.split('.')[1]!, 'base64url').toString())).toMatchObject({ email: EMAIL, app_metadata: { roles: ['member'] } });
    expect(apiCalls.filter((c) => c === 'POST /token 200')).toHaveLength(2);
    expect(await liveSessions(user.id)).toBe(1);
    await page.close();
  }, 60_000);

  it('"Forgot password?" mails a link whose page lets the widget set a new password; the old one stops working', async () => {
    const before = (await userRow(EMAIL))!;
    const page = await context.newPage();
    await logOut(page);

    await modal(page).getByText('Forgot password?').click();
    await modalShows(page, 'Send recovery email');
    await modal(page).locator('input[name=email]').fill(EMAIL);
    await modal(page).locator('button[type=submit]').click();
    await modalShows(page, TEXT.recoverySent);
    expect(apiCalls).toContain('POST /recover 200');

    const mail = await nextMail(EMAIL, 1);
    const link = linkIn(mail, 'recovery');
    const opened = await context.newPage();
    // The widget signs in with the token (POST /verify type=recovery, then GET /user) and shows its "recover password" form.
    const signedIn = opened.waitForResponse((r) => r.url() === `${dev.url}/auth/identity/user` && r.request().method() === 'GET');
    await opened.goto(link);
    await modalShows(opened, 'Update password');
    expect((await signedIn).status()).toBe(200);
    await modal(opened).locator('form.form:not(.disabled)').waitFor();
    await modal(opened).locator('input[name=password]').fill(NEW_PASSWORD);
    await modal(opened).locator('button[type=submit]').click();
    await modalShows(opened, TEXT.loggedInAs);
    expect(apiCalls).toEqual(expect.arrayContaining(['PUT /user 200']));

    const changed = (await userRow(EMAIL))!;
    expect(changed.password_hash).not.toBe(before.password_hash);
    expect(await verifyPassword(NEW_PASSWORD, changed.password_hash!)).toBe(true);
    expect(await verifyPassword(PASSWORD, changed.password_hash!)).toBe(false);
    expect(await membersPath(opened)).toBe('/members/');
    await opened.close();

    // The old password is refused in the widget; the new one signs in.
    await logOut(page);
    await logIn(page, EMAIL, PASSWORD);
    // The widget shows the API's error_description.
    await modal(page).locator('.flashMessage.error', { hasText: 'The email or password is not right.' }).waitFor();
    expect(await page.textContent('#current-user')).toBe('');
    expect(await jwtCookie()).toBeUndefined();
    await page.reload();
    await logIn(page, EMAIL, NEW_PASSWORD);
    await modalShows(page, TEXT.loggedInAs);
    await page.waitForFunction((email) => document.getElementById('current-user')?.textContent === email, EMAIL);
    expect(await membersPath(page)).toBe('/members/');
    await page.close();
  }, 90_000);
});
