/**
 * Sign-in with a provider in a real browser: Debian's Chromium against the starter under
 * `netlify dev`, its login page's "Sign in with Example SSO" (a real OpenID Connect server)
 * and "Sign in with GitHub" (a GitHub Enterprise Server stand-in) buttons, with JavaScript off
 * as far as the sign-in goes; the account page's list of linked providers needs scripts.
 * Each step's state is read back from the database.
 */
import pg from 'pg';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../../src/core/password.js';
import { openPostgresStore } from '../../../src/store/postgres.js';
import { openBrowser, type BrowserSession } from '../../support/browser.js';
import { GITHUB_ACCOUNTS, SSO_ACCOUNTS, browserPool, submit, type AccountSite } from '../account-site.js';

const ADMIN = GITHUB_ACCOUNTS[0]!;
const ADMIN_EMAIL = ADMIN.emails[0]!.email;
const ADMIN_PASSWORD = 'the passphrase this admin signs in with';

/** Registers this flow's cases on the shared site (account-site.ts), started by test/e2e/accounts.test.ts. */
export function describeProviders(shared: () => AccountSite): void {
  describe('sign-in with a provider in Chromium', () => {
    let sql: pg.Pool;
    let base: string;
    const browsers = browserPool();
    const scripted: BrowserSession[] = [];

    beforeAll(async () => {
      const { db, dev } = shared();
      base = dev.url;
      sql = new pg.Pool({ connectionString: db.url, max: 2 });
      const store = openPostgresStore({ connectionString: db.url });
      const created = await store.createUser({ email: ADMIN_EMAIL, passwordHash: await hashPassword(ADMIN_PASSWORD, 10), roles: ['admin'] });
      await store.close();
      if (created.status !== 'created') throw new Error('fixture admin not created');
    }, 120_000);

    afterAll(async () => {
      await browsers.closeAll();
      for (const session of scripted) await session.close();
      await sql?.end();
    });

    async function identitiesOf(email: string): Promise<Array<{ provider: string; subject: string; roles: string[] }>> {
      const { rows } = await sql.query<{ provider: string; subject: string; roles: string[] }>(
        'select i.provider, i.subject, u.roles from rolegate.identities i join rolegate.users u on u.id = i.user_id where lower(u.email) = lower($1) order by i.provider',
        [email],
      );
      return rows;
    }

    async function userCount(email: string): Promise<number> {
      return (await sql.query<{ n: number }>('select count(*)::int as n from rolegate.users where lower(email) = lower($1)', [email])).rows[0]!.n;
    }

    /** From a gated page, to the login page, and through the button named `button` to the provider's login form. */
    async function toProvider(page: Page, gated: string, button: string): Promise<void> {
      await page.goto(`${base}${gated}`);
      expect(new URL(page.url()).pathname, await page.content()).toBe('/login');
      await Promise.all([page.waitForLoadState('load'), page.click(`button:text-is("${button}")`)]);
      expect(await page.locator('input[name=login]').count(), await page.content()).toBe(1);
    }

    /** Types `login` at the provider's form and follows the way back to the site. */
    async function signInAtProvider(page: Page, login: string, button = 'Sign in'): Promise<void> {
      await page.fill('input[name=login]', login);
      await Promise.all([page.waitForURL((url) => url.href.startsWith(base), { waitUntil: 'load' }), page.click(`button:text-is("${button}")`)]);
    }

    it('a new visitor signs in with the OpenID Connect provider, gets an account with the new-user role, and lands on the gated page', async () => {
      const page = await (await browsers.context()).newPage();
      const account = SSO_ACCOUNTS.newcomer!;
      await toProvider(page, '/members/', 'Sign in with Example SSO');
      await signInAtProvider(page, 'newcomer');
      expect(new URL(page.url()).pathname, await page.content()).toBe('/members/');
      expect(await page.locator('h1').first().textContent()).toMatch(/member/i);
      expect(await identitiesOf(account.email)).toEqual([{ provider: 'sso', subject: account.sub, roles: ['member'] }]);
      const cookies = (await page.context().cookies(base)).map((c) => c.name).sort();
      expect(cookies).toEqual(expect.arrayContaining(['nf_jwt']));
      expect(cookies.some((name) => name.endsWith('rolegate_refresh')), cookies.join(', ')).toBe(true);
      expect(cookies.some((name) => name.endsWith('rolegate_provider')), 'the state cookie is gone').toBe(false);
    }, 60_000);

    it('an admin with a password signs in with GitHub through the verified address, keeps the admin role, and the admin page opens', async () => {
      const page = await (await browsers.context()).newPage();
      await toProvider(page, '/admin/', 'Sign in with GitHub');
      await signInAtProvider(page, ADMIN.login);
      expect(new URL(page.url()).pathname, await page.content()).toBe('/admin/');
      expect(await identitiesOf(ADMIN_EMAIL)).toEqual([{ provider: 'github', subject: String(ADMIN.id), roles: ['admin'] }]);
      expect(await userCount(ADMIN_EMAIL)).toBe(1);
    }, 60_000);

    it('an address the provider has not verified gets a page that says so, and no account', async () => {
      const page = await (await browsers.context()).newPage();
      await toProvider(page, '/members/', 'Sign in with Example SSO');
      await signInAtProvider(page, 'unverified');
      expect(new URL(page.url()).pathname).toBe('/auth/provider/sso/callback');
      expect(await page.textContent('body')).toMatch(/verif/i);
      await Promise.all([page.waitForLoadState('load'), page.click('a:text("Back to sign in")')]);
      expect(new URL(page.url()).pathname).toBe('/login');
      expect(await userCount(SSO_ACCOUNTS.unverified!.email)).toBe(0);
      expect((await page.context().cookies(base)).map((c) => c.name)).not.toContain('nf_jwt');
    }, 60_000);

    it('turning the sign-in down at GitHub comes back to a page with the way to sign in, signed out', async () => {
      const page = await (await browsers.context()).newPage();
      await toProvider(page, '/admin/', 'Sign in with GitHub');
      await signInAtProvider(page, ADMIN.login, 'Cancel');
      expect(new URL(page.url()).pathname).toBe('/auth/provider/github/callback');
      expect(await page.locator('a:text("Back to sign in")').count(), await page.content()).toBe(1);
      expect((await page.context().cookies(base)).map((c) => c.name)).not.toContain('nf_jwt');
    }, 60_000);

    it('the account page lists the linked GitHub sign-in, and removing it leaves the password', async () => {
      const session = await openBrowser({ javaScriptEnabled: true });
      scripted.push(session);
      const page = await session.context.newPage();
      page.on('dialog', (dialog) => void dialog.accept());
      await page.goto(`${base}/login`);
      await page.fill('#email', ADMIN_EMAIL);
      await page.fill('#password', ADMIN_PASSWORD);
      await submit(page, 'form:has(#password)');
      await page.goto(`${base}/account`);
      const item = page.locator('#linked li');
      await item.first().waitFor();
      expect(await item.textContent()).toContain(`GitHub (${ADMIN_EMAIL})`);
      await Promise.all([page.waitForURL(/done=unlinked/), page.click('#linked button:text-is("Remove")')]);
      expect(await identitiesOf(ADMIN_EMAIL)).toEqual([]);
      // The password still signs in.
      const again = await (await browsers.context()).newPage();
      await again.goto(`${base}/login?next=%2Fadmin%2F`);
      await again.fill('#email', ADMIN_EMAIL);
      await again.fill('#password', ADMIN_PASSWORD);
      await submit(again, 'form:has(#password)');
      expect(new URL(again.url()).pathname).toBe('/admin/');
    }, 60_000);
  });
}
