/**
 * The whole flow in a real browser: Debian's Chromium (headless, through
 * playwright-core) against `netlify dev --offline` serving the starter site,
 * with the gates, the functions and a real PostgreSQL. Screenshots of the
 * login, admin and forbidden pages go to test-artifacts/.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nowSeconds, signAccessTokenWithJose } from '../../src/core/access-token.js';
import { hashPassword } from '../../src/core/password.js';
import { Secret } from '../../src/core/secret.js';
import { buildRedirects } from '../../src/gates/build.js';
import { loadGateConfig } from '../../src/gates/compile.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import type { User } from '../../src/store/store.js';
import { openBrowser, type BrowserSession } from '../support/browser.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { copySite, startNetlifyDev, type NetlifyDev } from '../support/netlify-dev.js';

const PASSWORD = 'correct horse battery staple';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');

describe('the starter site in Chromium', () => {
  let db: TestDatabase;
  let site: ReturnType<typeof copySite>;
  let dev: NetlifyDev;
  let admin: User;
  const browsers: BrowserSession[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    db = await createTestDatabase();
    const store = openPostgresStore({ connectionString: db.url });
    const hash = await hashPassword(PASSWORD, 10);
    const a = await store.createUser({ email: 'admin@example.com', passwordHash: hash, roles: ['admin'] });
    await store.createUser({ email: 'member@example.com', passwordHash: hash, roles: ['member'] });
    await store.close();
    if (a.status !== 'created') throw new Error('fixture admin not created');
    admin = a.user;
    site = copySite();
    const { config } = loadGateConfig(readFileSync(join(site.root, 'rolegate.config.json'), 'utf8'));
    await buildRedirects({ siteRoot: site.root, config });
    dev = await startNetlifyDev({ DATABASE_URL: db.url, BCRYPT_COST: '10' }, site.root);
  }, 120_000);

  afterAll(async () => {
    for (const b of browsers) await b.close();
    await dev?.stop();
    site?.remove();
    await db?.drop();
  });

  async function browser(options: { javaScriptEnabled?: boolean } = {}): Promise<BrowserContext> {
    const b = await openBrowser(options);
    browsers.push(b);
    return b.context;
  }

  async function signInWithForm(page: Page, email: string, path = '/admin/'): Promise<void> {
    await page.goto(`${dev.url}${path}`);
    await page.waitForURL((url) => url.pathname === '/login');
    await page.fill('#email', email);
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
  }

  async function expireAccessToken(context: BrowserContext, user: User): Promise<void> {
    const { token } = await signAccessTokenWithJose({
      subject: { id: user.id, email: user.email, roles: user.roles }, sessionId: '00000000-0000-4000-8000-000000000000',
      secret: new Secret(dev.jwtSecret), issuer: 'rolegate', ttlSeconds: 60, now: nowSeconds() - 3600,
    });
    await context.addCookies([{ name: 'nf_jwt', value: token, url: dev.url, httpOnly: true, secure: true, sameSite: 'Lax' }]);
  }

  it('signs in with the form and lands on the gated page (JavaScript on)', async () => {
    const context = await browser();
    const page = await context.newPage();
    await page.goto(`${dev.url}/login?error=invalid_credentials`);
    expect(await page.textContent('#error')).toContain('do not match');
    await page.screenshot({ path: join(ARTIFACTS, 'login.png'), fullPage: true });
    await signInWithForm(page, 'admin@example.com');
    expect(new URL(page.url()).pathname).toBe('/admin/');
    expect(await page.textContent('h1')).toBe('Admin area');
    await page.screenshot({ path: join(ARTIFACTS, 'admin.png'), fullPage: true });
  });

  it('signs in with the form with JavaScript off, keeping next', async () => {
    const context = await browser({ javaScriptEnabled: false });
    const page = await context.newPage();
    await signInWithForm(page, 'admin@example.com');
    expect(new URL(page.url()).pathname).toBe('/admin/');
    expect(await page.textContent('h1')).toBe('Admin area');
  });

  it('sends a member to the forbidden page for /admin/, without a loop', async () => {
    const context = await browser();
    const page = await context.newPage();
    const responses: number[] = [];
    const chain: string[] = [];
    page.on('response', (r) => { responses.push(r.status()); chain.push(`${r.status()} ${new URL(r.url()).pathname}`); });
    await signInWithForm(page, 'member@example.com', '/members/');
    expect(await page.textContent('h1')).toBe('Members area');
    responses.length = 0;
    chain.length = 0;
    await page.goto(`${dev.url}/admin/`);
    expect(new URL(page.url()).pathname).toMatch(/^\/403(\.html)?$/);
    expect(await page.textContent('h1')).toBe('Not allowed');
    // Exactly the gate's 302 and the bounce's 303 (a 304 for the stylesheet is no redirect).
    expect(responses.filter((s) => [301, 302, 303, 307, 308].includes(s)), chain.join(' → ')).toEqual([302, 303]);
    await page.screenshot({ path: join(ARTIFACTS, '403.png'), fullPage: true });
  });

  it('gets through with an expired access token by the server-side bounce, with JavaScript off', async () => {
    const context = await browser({ javaScriptEnabled: false });
    const page = await context.newPage();
    await signInWithForm(page, 'admin@example.com');
    await expireAccessToken(context, admin);
    await page.goto(`${dev.url}/admin/`);
    expect(new URL(page.url()).pathname).toBe('/admin/');
    expect(await page.textContent('h1')).toBe('Admin area');
  });

  it('two tabs with an expired token share one refresh through the fetch wrapper', async () => {
    const context = await browser();
    const first = await context.newPage();
    await signInWithForm(first, 'admin@example.com', '/admin/');
    const second = await context.newPage();
    await second.goto(`${dev.url}/account`);
    await first.goto(`${dev.url}/account`);
    await expireAccessToken(context, admin);
    let refreshes = 0;
    context.on('request', (r) => { if (r.method() === 'POST' && r.url().includes('/.netlify/functions/refresh')) refreshes += 1; });
    // Run in the page as source text: the test runner must not try to bundle the site's own module.
    const call = (page: Page) => page.evaluate<{ status: number; body: { email: string } }>(`(async () => {
      const { authFetch } = await import('/rolegate.js');
      const response = await authFetch('/.netlify/functions/whoami');
      return { status: response.status, body: await response.json() };
    })()`);
    const [a, b] = await Promise.all([call(first), call(second)]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.body.email).toBe('admin@example.com');
    expect(refreshes).toBe(1);
  });

  it('signing out in one tab sends the other tab to login at its next gated navigation', async () => {
    const context = await browser();
    const one = await context.newPage();
    await signInWithForm(one, 'admin@example.com');
    const two = await context.newPage();
    await two.goto(`${dev.url}/admin/`);
    expect(await two.textContent('h1')).toBe('Admin area');
    await one.goto(`${dev.url}/account`);
    await Promise.all([one.waitForURL((url) => url.pathname === '/login'), one.click('#sign-out')]);
    await two.goto(`${dev.url}/admin/`);
    expect(new URL(two.url()).pathname).toBe('/login');
  });

  it('"sign out everywhere" ends the session of a second browser too', async () => {
    const laptop = await (await browser()).newPage();
    const phoneContext = await browser();
    const phone = await phoneContext.newPage();
    await signInWithForm(laptop, 'admin@example.com');
    await signInWithForm(phone, 'admin@example.com');
    await laptop.goto(`${dev.url}/account`);
    expect(await laptop.textContent('#who')).toContain('admin@example.com');
    await Promise.all([laptop.waitForURL((url) => url.pathname === '/login'), laptop.click('#sign-out-everywhere')]);
    // The phone's access token is still valid until it expires; once it has, the bounce finds the session gone.
    await expireAccessToken(phoneContext, admin);
    await phone.goto(`${dev.url}/admin/`);
    expect(new URL(phone.url()).pathname).toBe('/login');
  });
});
