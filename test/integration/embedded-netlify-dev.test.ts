/**
 * The README's first command, minus the install: the embedded database seeded
 * the way `npm start` seeds it, then used by the functions inside
 * `netlify dev` (which bundles them to CommonJS and hands them a
 * NETLIFY_DB_URL of its own that must not win), while a second process is
 * kept out by the lock.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedAdmin } from '../../src/dev/start.js';
import { buildRedirects } from '../../src/gates/build.js';
import { loadGateConfig } from '../../src/gates/compile.js';
import { copySite, startNetlifyDev, type NetlifyDev } from '../support/netlify-dev.js';
import { CookieJar, follow, request } from '../support/http-client.js';

const PASSWORD = 'a passphrase for the seeded admin';

describe('npm start: the embedded database behind netlify dev', () => {
  let site: ReturnType<typeof copySite>;
  let dev: NetlifyDev;
  let dataDir: string;

  beforeAll(async () => {
    site = copySite();
    dataDir = join(site.root, '.rolegate', 'data');
    await seedAdmin({ ROLEGATE_DATA_DIR: dataDir, ADMIN_PASSWORD: PASSWORD }, 10);
    const { config } = loadGateConfig(readFileSync(join(site.root, 'rolegate.config.json'), 'utf8'));
    await buildRedirects({ siteRoot: site.root, config });
    dev = await startNetlifyDev({ ROLEGATE_DATA_DIR: dataDir, BCRYPT_COST: '10' }, site.root);
  }, 120_000);

  afterAll(async () => {
    await dev?.stop();
    site?.remove();
  });

  it('signs the seeded admin in and serves the gated page', async () => {
    const jar = new CookieJar();
    const login = await request(jar, `${dev.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: dev.url },
      body: JSON.stringify({ email: 'admin@example.com', password: PASSWORD }),
    });
    expect(login.status, await login.clone().text()).toBe(200);
    const page = await follow(jar, `${dev.url}/admin/`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Admin area');
  });

  it('keeps a second process out of the database while the server holds it, naming the holder', () => {
    const cli = spawnSync(process.execPath, [join(process.cwd(), 'bin', 'rolegate.js'), 'users', 'list'], {
      env: { ...process.env, ROLEGATE_DATA_DIR: dataDir }, encoding: 'utf8',
    });
    expect(cli.status).toBe(1);
    expect(cli.stderr).toMatch(/in use by process \d+ \(.*netlify/);
  });
});
