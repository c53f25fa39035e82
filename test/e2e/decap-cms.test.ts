/**
 * Decap CMS on rolegate: `decap-cms-app` (bundled at test time with React 19, see
 * test/fixtures/identity-clients/decap-bundle.ts) with its `git-gateway` backend, whose
 * `identity_url` is the starter's Identity-compatible API (`/auth/identity`) under
 * `netlify dev`, a real PostgreSQL behind it, in Debian's Chromium. Decap signs in either
 * through the netlify-identity-widget when the page loads it (as Decap's docs set a site up),
 * or with its own form and the gotrue-js it bundles when it does not; both are driven here.
 *
 * The Git Gateway is a stand-in (git-gateway-standin.ts): it verifies the access token
 * rolegate issued as the real gateway does (HS256 with the site's JWT secret, the roles at
 * `app_metadata.roles`) and serves one collection from a repository in memory. The identity
 * side is the real API.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/core/password.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import { openBrowser, type BrowserSession } from '../support/browser.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { startNetlifyDev, type NetlifyDev } from '../support/netlify-dev.js';
import { decapBundle } from '../fixtures/identity-clients/decap-bundle.js';
import { startGitGatewayStandin, type GitGatewayStandin } from '../fixtures/identity-clients/git-gateway-standin.js';
import { identitySite, WIDGET_SCRIPT_PATH, type IdentitySite } from '../fixtures/identity-clients/identity-site.js';

const EDITOR_EMAIL = 'editor@example.com';
const EDITOR_PASSWORD = 'the editor passphrase of this site';
const MEMBER_EMAIL = 'just-a-member@example.com';
const MEMBER_PASSWORD = 'a member passphrase, not an editor';
/** The Git Gateway's roles (Netlify's "Git Gateway roles"): who may edit content. */
const GATEWAY_ROLES = ['editor', 'admin'];
const POST_TITLE = 'Hello from the content repository';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');

/** A CMS page: Decap with the git-gateway backend, with or without the widget loaded first. */
function cmsPage(options: { widget: boolean; gatewayUrl: string }): string {
  const config = {
    load_config_file: false,
    backend: { name: 'git-gateway', branch: 'master', gateway_url: options.gatewayUrl, status_endpoint: `${options.gatewayUrl}/status` },
    media_folder: 'public/images/uploads',
    public_folder: '/images/uploads',
    collections: [{
      name: 'posts', label: 'Posts', label_singular: 'Post', folder: 'content/posts', create: true, extension: 'md', format: 'frontmatter',
      fields: [{ label: 'Title', name: 'title', widget: 'string' }, { label: 'Body', name: 'body', widget: 'markdown' }],
    }],
  };
  // The widget in <head>, as Decap's docs place it; its init in <body> (it appends its iframe
  // to the body), before the CMS and before the widget's own init on DOMContentLoaded, which
  // on localhost would ask for a Netlify site URL instead.
  const widget = options.widget ? `<script src="${WIDGET_SCRIPT_PATH}"></script>` : '';
  const widgetInit = options.widget ? `<script>netlifyIdentity.init({ APIUrl: location.origin + '/auth/identity' });</script>` : '';
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Content Manager</title>
  ${widget}
</head>
<body>
  ${widgetInit}
  <script>
    // identity_url on the page's own origin (a site would write it out in its config).
    window.DECAP_TEST_CONFIG = ${JSON.stringify(config)};
    window.DECAP_TEST_CONFIG.backend.identity_url = location.origin + '/auth/identity';
  </script>
  <script src="/cms/decap-cms.js"></script>
</body>
</html>
`;
}

describe('Decap CMS (git-gateway backend) signs in against the Identity-compatible API', () => {
  let db: TestDatabase;
  let sql: pg.Pool;
  let site: IdentitySite;
  let dev: NetlifyDev;
  let gateway: GitGatewayStandin;
  const browsers: BrowserSession[] = [];
  let editorId: string;
  let memberId: string;

  beforeAll(async () => {
    const bundling = decapBundle();
    db = await createTestDatabase();
    sql = new pg.Pool({ connectionString: db.url, max: 2 });
    const store = openPostgresStore({ connectionString: db.url });
    const editor = await store.createUser({ email: EDITOR_EMAIL, passwordHash: await hashPassword(EDITOR_PASSWORD, 10), roles: ['editor'], userMetadata: { full_name: 'Ed Itor' } });
    const member = await store.createUser({ email: MEMBER_EMAIL, passwordHash: await hashPassword(MEMBER_PASSWORD, 10), roles: ['member'] });
    await store.close();
    if (editor.status !== 'created' || member.status !== 'created') throw new Error('fixture users not created');
    editorId = editor.user.id;
    memberId = member.user.id;
    site = await identitySite();
    dev = await startNetlifyDev({ DATABASE_URL: db.url, BCRYPT_COST: '10' }, site.root);
    gateway = await startGitGatewayStandin({
      jwtSecret: dev.jwtSecret, roles: GATEWAY_ROLES, allowedOrigin: dev.url,
      files: [{ path: 'content/posts/2026-12-01-hello.md', content: `---\ntitle: ${POST_TITLE}\n---\n\nWritten before the CMS came.\n` }],
    });
    // Served by netlify dev as static files, which it reads at each request.
    const bundle = await bundling;
    mkdirSync(join(site.root, 'public', 'cms'), { recursive: true });
    copyFileSync(bundle, join(site.root, 'public', 'cms', 'decap-cms.js'));
    site.publish('cms/index.html', cmsPage({ widget: true, gatewayUrl: gateway.url }));
    site.publish('cms/gotrue.html', cmsPage({ widget: false, gatewayUrl: gateway.url }));
  }, 120_000);

  afterAll(async () => {
    for (const b of browsers) await b.close();
    await gateway?.stop();
    await dev?.stop();
    site?.remove();
    await sql?.end();
    await db?.drop();
  });

  async function browser(): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
    const b = await openBrowser();
    browsers.push(b);
    const page = await b.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
    return { context: b.context, page, errors };
  }

  async function liveSessions(userId: string): Promise<number> {
    const { rows } = await sql.query<{ n: number }>('select count(*)::int as n from rolegate.sessions where user_id = $1 and revoked_at is null', [userId]);
    return rows[0]!.n;
  }

  /** The CMS past its login as the editor: the collection and the entry read through the gateway, the editor as its user. */
  async function showsCollection(page: Page, errors: string[]): Promise<void> {
    await page.getByText(POST_TITLE).first().waitFor({ timeout: 20_000 }).catch(async (error: unknown) => {
      throw new Error(`the CMS did not list the entry: ${await page.evaluate(() => document.body.innerText)}\nbrowser errors: ${errors.join('\n')}\ngateway: ${JSON.stringify(gateway.requests)}\n${String(error)}`);
    });
    await expect(page.getByRole('link', { name: 'Posts' }).first().isVisible()).resolves.toBe(true);
    expect(new URL(page.url()).hash).toBe('#/collections/posts');
    // The user Decap keeps for its session: the editor, named from the API's user_metadata.
    const user = JSON.parse((await page.evaluate(() => localStorage.getItem('decap-cms-user'))) ?? 'null') as { email?: string; name?: string } | null;
    expect(user).toMatchObject({ email: EDITOR_EMAIL, name: 'Ed Itor' });
  }

  it('with the widget on the page: "Login with Netlify Identity" opens the widget, the editor signs in, and the CMS lists the collection', async () => {
    const { page, errors } = await browser();
    await page.goto(`${dev.url}/cms/`);
    const login = page.getByRole('button', { name: 'Login with Netlify Identity' });
    await login.waitFor({ timeout: 20_000 });
    await login.click();
    const widget = page.frameLocator('#netlify-identity-widget');
    await widget.locator('input[name=email]').waitFor({ timeout: 15_000 }).catch(async (error: unknown) => {
      const frames = await Promise.all(page.frames().map(async (f) => `${f.name()} ${f.url()}: ${await f.evaluate(() => document.body?.innerHTML.slice(0, 1500)).catch(String)}`));
      throw new Error(`no widget login form:\n${frames.join('\n---\n')}\nerrors: ${errors.join('\n')}\n${String(error)}`);
    });
    await widget.locator('input[name=email]').fill(EDITOR_EMAIL);
    await widget.locator('input[name=password]').fill(EDITOR_PASSWORD);
    await widget.locator('button[type=submit]').click();
    await showsCollection(page, errors);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'decap-cms-signed-in.png') });

    // The gateway got rolegate's access token for the editor, and the repository calls passed its role check.
    const asEditor = gateway.requests.filter((r) => r.email === EDITOR_EMAIL);
    expect(asEditor.map((r) => `${r.path} ${r.status}`)).toEqual(expect.arrayContaining(['/settings 200', '/github/branches/master 200']));
    expect(asEditor.filter((r) => r.status === 401 || r.status === 403)).toEqual([]);
    expect(await liveSessions(editorId)).toBe(1);

    // A reload keeps the editor signed in (the widget's stored session; no new login).
    await page.reload();
    await showsCollection(page, errors);
    expect(await liveSessions(editorId)).toBe(1);
  }, 60_000);

  it('without the widget: Decap\'s own form signs in with gotrue-js straight against the API', async () => {
    const { page, errors } = await browser();
    await page.goto(`${dev.url}/cms/gotrue.html`);
    await page.locator('input[name=email]').waitFor({ timeout: 20_000 });
    await page.fill('input[name=email]', EDITOR_EMAIL);
    await page.fill('input[name=password]', EDITOR_PASSWORD);
    await page.getByRole('button', { name: 'Login' }).click();
    await showsCollection(page, errors);
    expect(await liveSessions(editorId)).toBe(2);
  }, 60_000);

  it('a member without an editor role signs in to the API, but the CMS and the gateway refuse them', async () => {
    const { page } = await browser();
    await page.goto(`${dev.url}/cms/gotrue.html`);
    await page.locator('input[name=email]').waitFor({ timeout: 20_000 });
    // A wrong password first: the API's refusal reaches Decap's form.
    await page.fill('input[name=email]', MEMBER_EMAIL);
    await page.fill('input[name=password]', 'not the member passphrase');
    await page.getByRole('button', { name: 'Login' }).click();
    await page.getByText('The email or password is not right.').waitFor({ timeout: 15_000 });

    await page.fill('input[name=password]', MEMBER_PASSWORD);
    await page.getByRole('button', { name: 'Login' }).click();
    await page.getByText("You don't have sufficient permissions to access Decap CMS").first().waitFor({ timeout: 15_000 });
    expect(await page.getByText(POST_TITLE).count()).toBe(0);
    // Signed in to the API (its session is live), then refused by the CMS on the gateway's roles before any repository call.
    expect(await liveSessions(memberId)).toBe(1);
    expect(gateway.requests.filter((r) => r.email === MEMBER_EMAIL).map((r) => `${r.path} ${r.status}`)).toEqual(['/settings 200']);
  }, 60_000);
});
