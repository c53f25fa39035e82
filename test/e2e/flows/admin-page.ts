/**
 * The starter's admin page (/admin/users) in Chromium with JavaScript on, against the admin API
 * under `netlify dev`: an admin finds a user, changes their roles (the user's next refresh
 * carries them), disables and enables them (their session stops refreshing), invites someone
 * (the mail is captured), deletes a user. A member, and a page on another origin, change
 * nothing. Each step is read back from the database; screenshots go to test-artifacts/.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import pg from 'pg';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../../src/core/password.js';
import { openPostgresStore } from '../../../src/store/postgres.js';
import { openBrowser, type BrowserSession } from '../../support/browser.js';
import { freePort } from '../../support/postgres-cluster.js';
import { nextMail, submit, type AccountSite } from '../account-site.js';

const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const ROOT = join(import.meta.dirname, '..', '..', '..');
const PASSWORD = 'the passphrase of an admin page user';
const ADMIN = 'page.admin@example.com';
const TARGET = 'page.target@example.com';
const DOOMED = 'page.doomed@example.com';
const MEMBER = 'page.member@example.com';
const INVITEE = 'page.invitee@example.com';

/** Registers this flow's cases on the shared site (account-site.ts), started by test/e2e/accounts.test.ts. */
export function describeAdminPage(shared: () => AccountSite): void {
  describe('the admin page in Chromium', () => {
    let sql: pg.Pool;
    let base: string;
    const ids: Record<string, string> = {};
    const sessions: BrowserSession[] = [];
    let admin: Page;
    let target: Page;

    async function context(): Promise<BrowserContext> {
      const session = await openBrowser({ javaScriptEnabled: true });
      sessions.push(session);
      return session.context;
    }

    async function signedIn(email: string, landing = '/'): Promise<Page> {
      const page = await (await context()).newPage();
      page.on('dialog', (dialog) => void dialog.accept());
      await page.goto(`${base}/login?next=${encodeURIComponent(landing)}`);
      await page.fill('#email', email);
      await page.fill('#password', PASSWORD);
      await submit(page, 'form:has(#password)');
      return page;
    }

    /** What the database holds for `email`: roles and whether disabled, or null once deleted. */
    async function row(email: string): Promise<{ roles: string[]; disabled: boolean } | null> {
      const { rows } = await sql.query<{ roles: string[]; disabled: boolean }>('select roles, disabled_at is not null as disabled from rolegate.users where email = $1', [email]);
      return rows[0] ?? null;
    }

    /** The target browser's refresh, as its pages' script would send it: the roles it carries, or the status. */
    async function targetRefresh(): Promise<string[] | number> {
      return target.evaluate(async () => {
        const response = await fetch('/auth/refresh', { method: 'POST', headers: { accept: 'application/json' } });
        return response.ok ? ((await response.json()) as { user: { roles: string[] } }).user.roles : response.status;
      });
    }

    /** Clears the page's last message, so the next one read is the next action's. */
    async function clearStatus(): Promise<void> {
      await admin.evaluate(() => {
        for (const id of ['status', 'message']) Object.assign(document.getElementById(id)!, { hidden: true, textContent: '' });
      });
    }

    async function statusText(): Promise<string> {
      await admin.locator('#status:not([hidden]), #message:not([hidden])').first().waitFor();
      return (await admin.locator('#message').isHidden()) ? String(await admin.textContent('#status')) : `error: ${await admin.textContent('#message')}`;
    }

    async function open(email: string): Promise<void> {
      await admin.fill('#q', email);
      await admin.click('#search button[type=submit]');
      await admin.locator(`button[aria-label="Open ${email}"]`).click();
      await admin.locator('#detail-email', { hasText: email }).waitFor();
    }

    beforeAll(async () => {
      const { db, dev } = shared();
      base = dev.url;
      sql = new pg.Pool({ connectionString: db.url, max: 2 });
      const store = openPostgresStore({ connectionString: db.url });
      const hash = await hashPassword(PASSWORD, 10);
      for (const [email, roles] of [[ADMIN, ['admin']], [TARGET, ['member']], [DOOMED, ['member']], [MEMBER, ['member']]] as const) {
        const created = await store.createUser({ email, passwordHash: hash, roles: [...roles] });
        if (created.status !== 'created') throw new Error(`fixture ${email} not created`);
        ids[email] = created.user.id;
      }
      await store.close();
      mkdirSync(ARTIFACTS, { recursive: true });
      target = await signedIn(TARGET, '/members/');
      admin = await signedIn(ADMIN, '/admin/users');
    }, 120_000);

    afterAll(async () => {
      for (const session of sessions) await session.close();
      await sql?.end();
    });

    it('is the page init writes, served behind the admin gate, listing users and the audit log', async () => {
      expect(readFileSync(join(ROOT, 'public', 'admin', 'users.html'), 'utf8')).toBe(readFileSync(join(ROOT, 'templates', 'pages', 'admin', 'users.html'), 'utf8'));
      expect(new URL(admin.url()).pathname).toBe('/admin/users');
      await admin.locator('#users tr', { hasText: TARGET }).waitFor();
      await admin.locator('#audit tr').first().waitFor();
      await admin.screenshot({ path: join(ARTIFACTS, 'admin-users.png'), fullPage: true });
    }, 60_000);

    it('finds a user and changes their roles, which their next refresh carries', async () => {
      await open(TARGET);
      expect(await admin.locator('#sessions tr').count()).toBeGreaterThanOrEqual(1);
      await admin.fill('#detail-roles', 'member, editor');
      await clearStatus();
      await admin.click('#roles-form button[type=submit]');
      expect(await statusText()).toMatch(/Roles saved/);
      expect((await row(TARGET))?.roles).toEqual(['member', 'editor']);
      expect(await targetRefresh()).toEqual(['member', 'editor']);
      await admin.screenshot({ path: join(ARTIFACTS, 'admin-user.png'), fullPage: true });
    }, 60_000);

    it('disables the user, whose session then refreshes no more, and enables them again', async () => {
      await clearStatus();
      await admin.click('#toggle-disabled');
      expect(await statusText()).toMatch(/disabled and signed out everywhere/);
      expect((await row(TARGET))?.disabled).toBe(true);
      expect(await targetRefresh()).toBe(401);
      await admin.locator('#toggle-disabled', { hasText: 'Enable' }).waitFor();
      await clearStatus();
      await admin.click('#toggle-disabled');
      expect(await statusText()).toMatch(/can sign in again/);
      expect((await row(TARGET))?.disabled).toBe(false);
    }, 60_000);

    it('invites someone, who gets the mail', async () => {
      await admin.fill('#invite-email', INVITEE);
      await admin.fill('#invite-roles', 'editor');
      await clearStatus();
      await admin.click('#invite button[type=submit]');
      expect(await statusText()).toMatch(/invitation to page\.invitee@example\.com is on its way/);
      expect((await row(INVITEE))?.roles).toEqual(['editor']);
      const mail = await nextMail(shared(), INVITEE, 0);
      expect(mail.text).toMatch(/\/auth\/verify\?token=/);
    }, 60_000);

    it('deletes a user after asking', async () => {
      await open(DOOMED);
      await clearStatus();
      await admin.click('#delete');
      expect(await statusText()).toMatch(/page\.doomed@example\.com is deleted/);
      expect(await row(DOOMED)).toBeNull();
      expect(await admin.locator('#detail').isHidden()).toBe(true);
    }, 60_000);

    it('gives a member the forbidden page and, calling the API directly, 403 with nothing changed', async () => {
      const member = await signedIn(MEMBER);
      await member.goto(`${base}/admin/users`);
      expect([new URL(member.url()).pathname, await member.textContent('h1')]).toEqual([expect.stringMatching(/^\/403(\.html)?$/), 'Not allowed']);
      const answers = await member.evaluate(async (id) => {
        const list = await fetch('/auth/admin/users');
        const disable = await fetch(`/auth/admin/users/${id}/disable`, { method: 'POST' });
        return [list.status, disable.status, ((await disable.json()) as { error: { code: string } }).error.code];
      }, ids[TARGET]!);
      expect(answers).toEqual([403, 403, 'forbidden']);
      expect(await row(TARGET)).toEqual({ roles: ['member', 'editor'], disabled: false });
    }, 60_000);

    it('refuses a disable sent by a page on another origin with the admin\'s cookies', async () => {
      const port = await freePort();
      // The same site (localhost) on another port: the browser sends the admin's cookies, and only the Origin check stands.
      const evil: Server = createServer((_request, response) => {
        response.setHeader('content-type', 'text/html');
        response.end(`<form method="post" action="${base}/auth/admin/users/${ids[TARGET]}/disable"></form><script>document.forms[0].submit()</script>`);
      });
      await new Promise<void>((resolve) => evil.listen(port, resolve));
      try {
        const page = await admin.context().newPage();
        const seen: string[] = [];
        page.on('response', (r) => seen.push(`${r.status()} ${r.request().method()} ${r.url()}`));
        await page.goto(`http://localhost:${port}/`, { timeout: 15_000 });
        await page.waitForURL((url) => url.pathname.includes('/auth/admin/'), { timeout: 15_000 }).catch(() => undefined);
        expect(seen.find((line) => line.includes('/auth/admin/')), seen.join('\n')).toMatch(/^403 POST /);
        expect(await page.textContent('body')).toContain('bad_origin');
        expect(await row(TARGET)).toEqual({ roles: ['member', 'editor'], disabled: false });
      } finally {
        evil.closeAllConnections();
        await new Promise((resolve) => evil.close(resolve));
      }
    }, 60_000);
  });
}
