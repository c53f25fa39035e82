/**
 * Adding rolegate to sites that look nothing like the starter, as their owners would: the
 * packed tarball installed with npm, `rolegate init --yes`, `netlify build --offline` (which
 * runs the build plugin), then `rolegate dev`. A plain HTML site publishing its root, with its
 * own `_redirects` rule and function, in edge mode; and a site whose build command generates
 * its publish directory, with its rules in netlify.toml and its functions in another folder, in
 * redirects mode. netlify-cli comes from this checkout, as a global install would.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieJar, follow, request } from '../support/http-client.js';
import { installTarball, packRolegate, run } from '../support/pack.js';
import { startRolegateDev, type RunningDev } from '../support/rolegate-dev.js';

const ROOT = join(import.meta.dirname, '..', '..');
const PASSWORD = 'a passphrase for the fixture admin';
const DEPLOY_ENV = { JWT_SECRET: 'a-deploy-secret-that-is-long-enough-0123456789', DATABASE_URL: 'postgres://site:pw@127.0.0.1:1/site', SITE_URL: 'https://fixture.example' };
const PATH_WITH_CLI = `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH}`;

function writeFiles(root: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
}

const rolegate = (site: string, args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, [join(site, 'node_modules', 'rolegate', 'bin', 'rolegate.js'), ...args], site, { PATH: PATH_WITH_CLI, ...env });

const netlifyBuild = (site: string, env: Record<string, string>) =>
  run(join(ROOT, 'node_modules', '.bin', 'netlify'), ['build', '--offline'], site, { PATH: PATH_WITH_CLI, CI: 'true', JWT_SECRET: '', DATABASE_URL: '', SITE_URL: '', URL: '', ...env });

async function status(url: string): Promise<number> {
  const response = await fetch(url, { redirect: 'manual' });
  await response.arrayBuffer();
  return response.status;
}

/** Signs in through the HTML form as the seeded admin and opens a gated page. */
async function signInAndOpen(dev: RunningDev, gated: string): Promise<{ bounced: string; page: string }> {
  const jar = new CookieJar();
  const bounce = await follow(jar, `${dev.url}${gated}`);
  const form = new URLSearchParams({ email: 'admin@example.com', password: PASSWORD, next: gated });
  const login = await request(jar, `${dev.url}/auth/login`, { method: 'POST', headers: { origin: dev.url, 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString(), redirect: 'manual' });
  expect(login.status).toBe(303);
  expect(login.headers.get('location')).toBe(gated);
  const page = await request(jar, `${dev.url}${gated}`, { redirect: 'manual' });
  return { bounced: bounce.url, page: `${page.status} ${await page.text()}` };
}

let work: string;
let tarball: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'rolegate-fixtures-'));
  tarball = packRolegate(work).tarball;
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('a plain HTML site publishing its root (publish = ".")', () => {
  let site: string;
  let dev: RunningDev | undefined;

  beforeAll(() => {
    site = join(work, 'plain');
    writeFiles(site, {
      'index.html': '<h1>plain home</h1>',
      'admin/index.html': '<h1>plain admin</h1>',
      '_redirects': '/old /index.html 301\n',
      'netlify/functions/hello.mjs': 'export const handler = async () => ({ statusCode: 200, body: "the site\'s own function" });\n',
      'netlify.toml': '[build]\n  publish = "."\n',
    });
    run('git', ['init', '-q'], site);
    installTarball(site, tarball);
  }, 300_000);

  afterAll(async () => {
    await dev?.stop();
  });

  it('init writes the config, netlify.toml lines, .gitignore and pages, and builds offline with the plugin', () => {
    const init = rolegate(site, ['init', '--yes', '--gate', '/admin/*=admin']);
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    expect(rolegate(site, ['init', '--yes']).stdout).toMatch(/^rolegate is already set up here: nothing to change\n/);

    const missingEnv = netlifyBuild(site, {});
    expect(missingEnv.code).not.toBe(0);
    expect(missingEnv.stdout + missingEnv.stderr).toContain('JWT_SECRET is required');

    const build = netlifyBuild(site, DEPLOY_ENV);
    expect(build.code, build.stdout + build.stderr).toBe(0);
    expect(build.stdout).toContain('wrote .netlify/v1/functions/: the functions login, logout, refresh');
    for (const fn of ['login', 'logout', 'refresh', 'recover', 'verify', 'mail-background', 'mail-scheduled', 'hello']) expect(existsSync(join(site, '.netlify', 'functions', `${fn}.zip`)), fn).toBe(true);
    const redirects = readFileSync(join(site, '_redirects'), 'utf8');
    expect(redirects).toContain('/auth/login /.netlify/functions/login 200');
    expect(redirects).toContain('/rolegate.config.json /404.html 404!');
    expect(redirects.endsWith('/old /index.html 301\n')).toBe(true);
  }, 240_000);

  it('rolegate dev: the site\'s own rule and function work, the gate bounces and lets the admin in, and no site file is served', async () => {
    dev = await startRolegateDev(site, { entry: join(site, 'node_modules', 'rolegate', 'bin', 'rolegate.js'), adminPassword: PASSWORD, env: { PATH: PATH_WITH_CLI } });
    expect(await status(`${dev.url}/`)).toBe(200);
    expect(await status(`${dev.url}/old`)).toBe(301);
    expect(await (await fetch(`${dev.url}/.netlify/functions/hello`)).text()).toBe('the site\'s own function');
    const { bounced, page } = await signInAndOpen(dev, '/admin/');
    expect(new URL(bounced).pathname).toBe('/login');
    expect(page).toBe('200 <h1>plain admin</h1>');
    for (const path of ['/rolegate.config.json', '/netlify.toml', '/package.json', '/node_modules/rolegate/package.json', '/netlify/functions/hello.mjs', '/.rolegate/data/PG_VERSION']) {
      expect(await status(`${dev.url}${path}`), path).toBe(404);
    }
    // The embedded database is outside the published folder.
    const dataDir = /using the embedded database in (.+)\n/.exec(dev.output())?.[1];
    expect(dataDir).toBeDefined();
    expect(dataDir!.startsWith(site)).toBe(false);
  }, 240_000);
});

describe('a site whose build generates its publish directory, with its rules in netlify.toml', () => {
  let site: string;
  let dev: RunningDev | undefined;

  beforeAll(() => {
    site = join(work, 'generated');
    writeFiles(site, {
      'package.json': JSON.stringify({ name: 'generated-site', private: true, type: 'module', scripts: { build: 'node build.mjs' } }),
      'build.mjs': [
        "import { mkdirSync, writeFileSync } from 'node:fs';",
        "const pages = { 'index.html': 'generated home', 'staff/index.html': 'staff only', 'login.html': 'sign in here', '403.html': 'not for you' };",
        "for (const [path, text] of Object.entries(pages)) { mkdirSync(('_site/' + path).replace(/[^/]+$/, ''), { recursive: true }); writeFileSync('_site/' + path, '<h1>' + text + '</h1>'); }",
        '',
      ].join('\n'),
      'api/hello.mjs': 'export const handler = async () => ({ statusCode: 200, body: "api hello" });\n',
      'netlify.toml': '[build]\n  command = "npm run build"\n  publish = "_site"\n  functions = "api"\n\n[[redirects]]\n  from = "/old"\n  to = "/"\n  status = 301\n',
    });
    run('git', ['init', '-q'], site);
    installTarball(site, tarball);
  }, 300_000);

  afterAll(async () => {
    await dev?.stop();
  });

  it('init leaves the generated folder alone; the build keeps the site\'s rules and functions', () => {
    const init = rolegate(site, ['init', '--yes', '--gate', '/staff/*=staff,admin', '--mode', 'redirects']);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain('by hand: add the pages /login, /403, /account, /forgot-password, /check-email, /choose-password, /signup, /confirm to your site\'s sources');
    expect(existsSync(join(site, '_site'))).toBe(false);
    const build = netlifyBuild(site, DEPLOY_ENV);
    expect(build.code, build.stdout + build.stderr).toBe(0);
    expect(build.stdout + build.stderr).toContain('mode "redirects"');
    for (const fn of ['login', 'logout', 'refresh', 'hello']) expect(existsSync(join(site, '.netlify', 'functions', `${fn}.zip`)), fn).toBe(true);
    expect(readFileSync(join(site, '_site', '_redirects'), 'utf8')).toContain('/staff/* /staff/:splat 200! Role=staff,admin');
  }, 240_000);

  it('rolegate dev: the netlify.toml rule and the site\'s function work, the gate bounces and lets the admin in', async () => {
    dev = await startRolegateDev(site, { entry: join(site, 'node_modules', 'rolegate', 'bin', 'rolegate.js'), adminPassword: PASSWORD, env: { PATH: PATH_WITH_CLI } });
    expect(await status(`${dev.url}/old`)).toBe(301);
    expect(await (await fetch(`${dev.url}/.netlify/functions/hello`)).text()).toBe('api hello');
    const { bounced, page } = await signInAndOpen(dev, '/staff/');
    expect(new URL(bounced).pathname).toBe('/login');
    expect(page).toBe('200 <h1>staff only</h1>');
    for (const path of ['/rolegate.config.json', '/.rolegate/data/PG_VERSION', '/build.mjs']) expect(await status(`${dev.url}${path}`), path).toBe(404);
  }, 240_000);
});
