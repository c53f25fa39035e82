/**
 * The gates end to end, through the real `netlify dev --offline`: Netlify's
 * own redirect engine reading the generated _redirects, the dev JWT secret and
 * role path from netlify.toml [dev], and the functions as Netlify runs them,
 * against a real PostgreSQL. Plain HTTP requests with a cookie jar; every
 * redirect chain is capped at 5 hops so a loop fails instead of hanging.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signAccessTokenWithJose, nowSeconds } from '../../src/core/access-token.js';
import { hashPassword } from '../../src/core/password.js';
import { Secret } from '../../src/core/secret.js';
import { loadGateConfig } from '../../src/gates/compile.js';
import { buildRedirects } from '../../src/gates/build.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import type { User } from '../../src/store/store.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { copySite, repoDevJwtSecret, startNetlifyDev, type NetlifyDev } from '../support/netlify-dev.js';
import { CookieJar, follow, request } from '../support/http-client.js';

const PASSWORD = 'correct horse battery staple';

/**
 * A GET with the request target exactly as given (fetch would resolve dot segments and read
 * backslashes as slashes first), as curl --path-as-is or a raw socket sends it.
 */
function rawGet(baseUrl: string, target: string, cookie?: string): Promise<{ status: number; location: string | undefined; body: string }> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest({ hostname, port, path: target, method: 'GET', headers: cookie ? { cookie } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, location: res.headers.location, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

// The starter's gates in redirects mode, on a copy of the site: what Netlify's own matcher does
// with them (the starter itself runs in edge mode; test/e2e and test/integration/dev-start cover that).
describe('gates through netlify dev (redirects mode)', () => {
  let db: TestDatabase;
  let dev: NetlifyDev;
  let site: { root: string; remove(): void };
  let admin: User;
  let member: User;

  beforeAll(async () => {
    db = await createTestDatabase();
    const store = openPostgresStore({ connectionString: db.url });
    const hash = await hashPassword(PASSWORD, 10);
    const a = await store.createUser({ email: 'admin@example.com', passwordHash: hash, roles: ['admin'] });
    const m = await store.createUser({ email: 'member@example.com', passwordHash: hash, roles: ['member'] });
    await store.close();
    if (a.status !== 'created' || m.status !== 'created') throw new Error('fixture users not created');
    admin = a.user;
    member = m.user;
    site = copySite({ edgeFunctions: false, mode: 'redirects' });
    await buildRedirects({ siteRoot: site.root, config: loadGateConfig(readFileSync(join(site.root, 'rolegate.config.json'), 'utf8')).config });
    dev = await startNetlifyDev({ DATABASE_URL: db.url, BCRYPT_COST: '10' }, site.root);
  }, 120_000);

  afterAll(async () => {
    await dev?.stop();
    await db?.drop();
    site?.remove();
  });

  async function signIn(email: string): Promise<CookieJar> {
    const jar = new CookieJar();
    const response = await request(jar, `${dev.url}/.netlify/functions/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: dev.url, accept: 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    expect(response.status, await response.clone().text()).toBe(200);
    expect(jar.cookies.get('nf_jwt')).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    return jar;
  }

  async function tokenFor(user: User, options: { secret?: string; now?: number; roles?: string[] } = {}) {
    const { token } = await signAccessTokenWithJose({
      subject: { id: user.id, email: user.email, roles: options.roles ?? user.roles },
      sessionId: '00000000-0000-4000-8000-000000000000',
      secret: new Secret(options.secret ?? dev.jwtSecret),
      issuer: 'rolegate',
      ttlSeconds: 60,
      now: options.now ?? nowSeconds(),
    });
    return token;
  }

  it('sends a visitor without a session through the bounce to the login page, with next, and no loop', async () => {
    const page = await follow(new CookieJar(), `${dev.url}/admin/`);
    expect(page.status).toBe(200);
    expect(page.hops.map((h) => h.status)).toEqual([302, 303, 200]);
    expect(page.hops[0]?.location).toBe('/.netlify/functions/refresh/admin/');
    const login = new URL(page.url);
    expect(login.pathname).toBe('/login');
    expect(login.searchParams.get('next')).toBe('/admin/');
    expect(page.body).toContain('<form method="post" action="/.netlify/functions/login">');
  });

  it('serves the gated page to an admin who signed in', async () => {
    const jar = await signIn('admin@example.com');
    const page = await follow(jar, `${dev.url}/admin/`);
    expect(page.hops).toHaveLength(1);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Admin area');
  });

  it('lets a member into /members/ but sends them to the forbidden page for /admin/, never into a loop', async () => {
    const jar = await signIn('member@example.com');
    const members = await follow(jar, `${dev.url}/members/`);
    expect(members.status).toBe(200);
    expect(members.body).toContain('Members area');
    const adminPage = await follow(jar, `${dev.url}/admin/`);
    expect(new URL(adminPage.url).pathname).toMatch(/^\/403(\.html)?$/);
    expect(adminPage.status).toBe(200);
    expect(adminPage.body).toContain('Not allowed');
  });

  it('refreshes an expired access token on the way through and returns to the page, with no script', async () => {
    const jar = await signIn('admin@example.com');
    jar.cookies.set('nf_jwt', await tokenFor(admin, { now: nowSeconds() - 3600 }));
    const page = await follow(jar, `${dev.url}/admin/`);
    expect(page.hops.map((h) => h.status)).toEqual([302, 303, 200]);
    expect(new URL(page.url).pathname).toBe('/admin/');
    expect(page.body).toContain('Admin area');
    // The bounce left a fresh token behind: the next visit goes straight through.
    const again = await follow(jar, `${dev.url}/admin/`);
    expect(again.hops).toHaveLength(1);
  });

  it('does not honour a token with the role that was signed with another secret', async () => {
    const jar = new CookieJar();
    jar.cookies.set('nf_jwt', await tokenFor(member, { roles: ['admin'], secret: 'an-attackers-secret-that-is-long-enough-1234' }));
    const page = await follow(jar, `${dev.url}/admin/`);
    expect(page.body).not.toContain('Admin area');
    expect(new URL(page.url).pathname).toBe('/login');
  });

  it('logs out: the cookies are deleted and the gate sends the visitor to login again', async () => {
    const jar = await signIn('admin@example.com');
    const response = await request(jar, `${dev.url}/.netlify/functions/logout`, {
      method: 'POST',
      headers: { origin: dev.url, accept: 'application/json', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(200);
    expect(jar.cookies.has('nf_jwt')).toBe(false);
    const page = await follow(jar, `${dev.url}/admin/`);
    expect(new URL(page.url).pathname).toBe('/login');
  });

  it('never leaves junk in nf_jwt: the bounce deletes a malformed value that the edge would answer 400 for', async () => {
    const jar = new CookieJar();
    jar.cookies.set('nf_jwt', 'not-a-jwt');
    const direct = await request(jar, `${dev.url}/admin/`);
    expect(direct.status).toBe(400);
    const bounce = await request(jar, `${dev.url}/.netlify/functions/refresh/admin/`);
    expect(bounce.status).toBe(303);
    expect(jar.cookies.has('nf_jwt')).toBe(false);
    const page = await follow(jar, `${dev.url}/admin/`);
    expect(new URL(page.url).pathname).toBe('/login');
  });

  // The edge gate refuses these (test/gates/edge-truth-table.test.ts); in redirects mode the
  // matcher sees `/x/../admin/…`, which no gate matches, so the file server must not resolve it.
  it('never serves a gated page through dot segments behind an escaped slash or backslash', async () => {
    const gatedPage = readFileSync('public/admin/index.html', 'utf8');
    for (const path of ['/x/..%2Fadmin/index.html', '/x/%2E%2E%2Fadmin/index.html', '/x/..%2Fadmin/', '/members/..%2Fadmin/index.html', '/x/..%5Cadmin/index.html']) {
      const response = await request(new CookieJar(), `${dev.url}${path}`);
      const body = await response.text();
      expect(response.status, path).not.toBe(200);
      expect(body === gatedPage, path).toBe(false);
    }
  });

  const adminPage = () => readFileSync('public/admin/index.html', 'utf8');

  // Measured before the host-form rules: every one of these served the admin page to anyone.
  // netlify dev reads a target starting with `//` (or `/\`) as a host (`//admin/x` → http://admin/x),
  // so no path rule matched while its static server still served admin/…; the generated
  // host-form rules (src/gates/compile.ts) gate them as the path they serve.
  const repeatedSlashSpellings = ['//admin/', '///admin/', '//admin', '//admin/index.html', '//admin//index.html', '///admin///index.html', '/\\admin/', '/\\/admin/', '//%61dmin/', '//admin/?x=1', '//admin/./'];

  it.each(repeatedSlashSpellings)('bounces an anonymous GET %s instead of serving the admin page', async (target) => {
    const answer = await rawGet(dev.url, target);
    expect(answer.body).not.toBe(adminPage());
    expect(answer.body).not.toContain('Admin area');
    expect(answer.status).toBe(302);
    expect(answer.location).toMatch(/^\/\.netlify\/functions\/refresh\/admin\//);
  });

  it('bounces an anonymous GET //members/ instead of serving the members page', async () => {
    const answer = await rawGet(dev.url, '//members/');
    expect(answer.body).not.toContain('Members area');
    expect(answer.status).toBe(302);
    expect(answer.location).toBe('/.netlify/functions/refresh/members/');
  });

  it('serves //admin/ to an admin, and sends a member on to the forbidden page, never the admin page', async () => {
    const adminJar = await signIn('admin@example.com');
    const served = await rawGet(dev.url, '//admin/', adminJar.header());
    expect(served.status).toBe(200);
    expect(served.body).toContain('Admin area');
    const memberJar = await signIn('member@example.com');
    const bounced = await rawGet(dev.url, '//admin/', memberJar.header());
    expect(bounced.status).toBe(302);
    expect(bounced.body).not.toContain('Admin area');
    const onward = await follow(memberJar, `${dev.url}${bounced.location}`);
    expect(new URL(onward.url).pathname).toMatch(/^\/403(\.html)?$/);
  });

  // Known gap of redirects mode under netlify dev, pinned so a netlify-cli change is noticed: a
  // dot segment before the run of slashes leaves `//admin/` as the path (not a host), which no
  // `_redirects` rule can match in netlify-redirector 0.5 (truth-table.test.ts pins why), while
  // the static server serves admin/index.html. No browser sends these (it resolves dot segments
  // itself); the edge gate bounces them (edge-truth-table.test.ts). Closing it under npm start
  // needs the local server to refuse unresolved targets before netlify dev sees them.
  it.each(['/.//admin/', '/x/..//admin/', '/%2E//admin/', '/..//admin/'])('known gap (redirects mode, netlify dev): the raw-path spelling %s still serves the admin page', async (target) => {
    const answer = await rawGet(dev.url, target);
    expect(answer.status).toBe(200);
    expect(answer.body).toBe(adminPage());
  });

  // Netlify's matcher, not rolegate's: pinned so a netlify-cli change is noticed. The edge gate
  // bounces the same token (edge-truth-table.test.ts, alg-none cases); README says to use edge mode.
  it('known finding (redirects mode, netlify dev): an unsigned alg:none token with the admin role is served the admin page', async () => {
    const signed = await tokenFor(member, { roles: ['admin'] });
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${signed.split('.')[1]}.`;
    const answer = await rawGet(dev.url, '/admin/', `nf_jwt=${unsigned}`);
    expect(answer.status).toBe(200);
    expect(answer.body).toContain('Admin area');
    // The same claims with a garbage HS256 signature are refused.
    const garbage = await rawGet(dev.url, '/admin/', `nf_jwt=${signed.split('.').slice(0, 2).join('.')}.AAAA`);
    expect(garbage.status).toBe(302);
  });

  it('keeps the public pages public', async () => {
    for (const path of ['/', '/login', '/403']) {
      const page = await follow(new CookieJar(), `${dev.url}${path}`);
      expect(page.hops, path).toHaveLength(1);
      expect(page.status, path).toBe(200);
    }
  });
});

/**
 * Gates two or more segments deep, in redirects mode, on a throwaway static site (no functions:
 * only Netlify's matcher and static server are under test). What the build warns about
 * (src/gates/compile.ts, runOfSlashesWarnings) is what netlify dev does: pinned, so a netlify-cli
 * change is noticed; the edge gate bounces these (test/gates/truth-table.ts, repeated slashes).
 */
describe('gates two or more segments deep through netlify dev (redirects mode)', () => {
  let dev: NetlifyDev;
  let root: string;
  let warnings: string[];
  const pages = { 'staff/rota.html': 'STAFF ROTA', 'staff/admin/payroll.html': 'ADMIN PAYROLL', 'reports/annual.html': 'FINANCE REPORT', 'index.html': 'HOME' };

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'rolegate-deep-gates-'));
    for (const [file, text] of Object.entries(pages)) {
      mkdirSync(dirname(join(root, 'public', file)), { recursive: true });
      writeFileSync(join(root, 'public', file), `<h1>${text}</h1>\n`);
    }
    // The checkout's dev secret and role path, and nothing else: a static site.
    writeFileSync(join(root, 'netlify.toml'), `[dev]\n  framework = "#static"\n  publish = "public"\n  autoLaunch = false\n  jwtSecret = "${repoDevJwtSecret()}"\n  jwtRolePath = "app_metadata.authorization.roles"\n`);
    const config = { mode: 'redirects', gates: [{ path: '/staff/*', roles: ['staff'] }, { path: '/staff/admin/*', roles: ['admin'] }, { path: '/reports/annual.html', roles: ['finance'] }] };
    writeFileSync(join(root, 'rolegate.config.json'), JSON.stringify(config));
    const built = await buildRedirects({ siteRoot: root, config: loadGateConfig(JSON.stringify(config)).config });
    warnings = built.warnings;
    symlinkSync(join(process.cwd(), 'node_modules'), join(root, 'node_modules'));
    spawnSync('git', ['init', '-q'], { cwd: root });
    dev = await startNetlifyDev({}, root);
  }, 120_000);

  afterAll(async () => {
    await dev?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  async function token(roles: string[]): Promise<string> {
    const { token: value } = await signAccessTokenWithJose({
      subject: { id: '00000000-0000-4000-8000-000000000001', email: 'x@example.com', roles },
      sessionId: '00000000-0000-4000-8000-000000000000',
      secret: new Secret(dev.jwtSecret),
      issuer: 'rolegate',
      ttlSeconds: 60,
      now: nowSeconds(),
    });
    return `nf_jwt=${value}`;
  }

  it('gates the pages at their own paths and behind a leading run of slashes', async () => {
    const staff = await token(['staff']);
    for (const [target, cookie] of [['/reports/annual.html', undefined], ['//reports/annual.html', undefined], ['/staff/admin/payroll.html', staff], ['//staff/admin/payroll.html', staff], ['/staff//admin/payroll.html', staff]] as const) {
      const answer = await rawGet(dev.url, target, cookie);
      expect(answer.status, target).toBe(302);
      expect(answer.body, target).not.toMatch(/FINANCE REPORT|ADMIN PAYROLL/);
    }
    expect((await rawGet(dev.url, '/staff/rota.html', staff)).body).toContain('STAFF ROTA');
  });

  it('known gap: serves /reports//annual.html to anyone and /staff///admin/payroll.html to staff, as the build warns', async () => {
    expect(warnings.join('\n')).toContain('/reports//annual.html');
    expect(warnings.join('\n')).toContain('/staff///admin/…');
    expect((await rawGet(dev.url, '/reports//annual.html')).body).toContain('FINANCE REPORT');
    expect((await rawGet(dev.url, '/staff///admin/payroll.html', await token(['staff']))).body).toContain('ADMIN PAYROLL');
  });
});
