/**
 * Attacks on the auth functions sent to the real `netlify dev`, where the
 * answer is written by Netlify's server: a Location it cannot write is its
 * 500 with a stack trace, not ours.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { validateHeaderValue } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedAdmin } from '../../src/dev/start.js';
import { buildRedirects } from '../../src/gates/build.js';
import { loadGateConfig } from '../../src/gates/compile.js';
import { copySite, startNetlifyDev, type NetlifyDev } from '../support/netlify-dev.js';
import { CookieJar, request } from '../support/http-client.js';

const PASSWORD = 'a passphrase for the seeded admin';
const EMAIL = 'admin@example.com';
const WIDE_NEXT = '%2F%E3%80%80x';

function expectWritableRedirect(response: Response): string {
  expect(response.status).toBe(303);
  const location = response.headers.get('location') ?? '';
  validateHeaderValue('Location', location);
  expect(location).toMatch(/^\/[\u0021-\u007e]*$/u);
  return location;
}

/** One request with the path's bytes as given (fetch would percent-encode them first), answered status line and headers. */
function rawGet(url: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; head: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname === 'localhost' ? '127.0.0.1' : hostname);
    let data = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      const end = data.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = data.subarray(0, end).toString('latin1');
        socket.destroy();
        resolve({ status: Number(head.split(' ')[1]), head });
      }
    });
    socket.on('error', reject);
    const lines = [`GET ${path} HTTP/1.1`, `Host: ${hostname}:${port}`, 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    socket.write(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'));
  });
}

describe('auth functions under netlify dev', () => {
  let site: ReturnType<typeof copySite>;
  let dev: NetlifyDev;

  beforeAll(async () => {
    site = copySite({ edgeFunctions: false });
    const dataDir = join(site.root, '.rolegate', 'data');
    await seedAdmin({ ROLEGATE_DATA_DIR: dataDir, ADMIN_PASSWORD: PASSWORD }, 10);
    const { config } = loadGateConfig(readFileSync(join(site.root, 'rolegate.config.json'), 'utf8'));
    await buildRedirects({ siteRoot: site.root, config });
    dev = await startNetlifyDev({ ROLEGATE_DATA_DIR: dataDir, BCRYPT_COST: '10' }, site.root);
  }, 120_000);

  afterAll(async () => {
    await dev?.stop();
    site?.remove();
  });

  const form = (jar: CookieJar, path: string, body: string) => request(jar, `${dev.url}${path}`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: dev.url }, body,
  });

  it('a form login with next=/<U+3000>x answers 303 to it, encoded, and its cookies arrive', async () => {
    const jar = new CookieJar();
    const r = await form(jar, '/.netlify/functions/login', `email=${encodeURIComponent(EMAIL)}&password=${encodeURIComponent(PASSWORD)}&next=${WIDE_NEXT}`);
    expect(expectWritableRedirect(r)).toBe('/%E3%80%80x');
    expect([...jar.cookies.keys()].sort()).toEqual(['__Host-rolegate_refresh', 'nf_jwt', 'rolegate_session']);
    // The session those cookies carry works.
    const again = await request(jar, `${dev.url}/.netlify/functions/refresh`, { method: 'POST', headers: { origin: dev.url } });
    expect(again.status).toBe(200);
  });

  it('a failed form login with that next goes back to the login page, not a 500', async () => {
    const r = await form(new CookieJar(), '/.netlify/functions/login', `email=${encodeURIComponent(EMAIL)}&password=wrong-password&next=${WIDE_NEXT}`);
    expect(expectWritableRedirect(r)).toMatch(/^\/login\?error=invalid_credentials&next=/u);
  });

  it('a form logout with that next answers 303 and deletes the cookies', async () => {
    const jar = new CookieJar();
    await form(jar, '/.netlify/functions/login', `email=${encodeURIComponent(EMAIL)}&password=${encodeURIComponent(PASSWORD)}`);
    expect(jar.cookies.has('nf_jwt')).toBe(true);
    const r = await form(jar, '/.netlify/functions/logout', `next=${WIDE_NEXT}`);
    expect(expectWritableRedirect(r)).toBe('/%E3%80%80x');
    expect(jar.cookies.size).toBe(0);
  });

  it('the bounce of a gated non-Latin-1 path answers 303 with a usable Location, signed in or not', async () => {
    const jar = new CookieJar();
    await form(jar, '/.netlify/functions/login', `email=${encodeURIComponent(EMAIL)}&password=${encodeURIComponent(PASSWORD)}`);
    for (const query of ['', '?q=%E3%80%80', `?next=${WIDE_NEXT}`]) {
      const signedIn = await request(jar, `${dev.url}/.netlify/functions/refresh/members/%E3%80%80${query}`);
      expect(expectWritableRedirect(signedIn)).toMatch(/^\/members\/%E3%80%80/u);
      const anonymous = await request(new CookieJar(), `${dev.url}/.netlify/functions/refresh/members/%E3%80%80${query}`);
      expect(expectWritableRedirect(anonymous)).toMatch(/^\/login\?next=%2Fmembers%2F/u);
    }
    const oldStyle = await request(new CookieJar(), `${dev.url}/.netlify/functions/refresh?next=${encodeURIComponent('/members/\u3000')}`);
    expect(expectWritableRedirect(oldStyle)).toMatch(/^\/login\?next=%2Fmembers%2F%25E3%2580%2580/u);
  });

  it('raw UTF-8 bytes in the bounced path and query never make a 500', async () => {
    for (const path of ['/.netlify/functions/refresh/members/\u3000x', '/.netlify/functions/refresh/members/?q=\u3000', '/.netlify/functions/refresh?next=/\u3000x', '/members/\u3000x']) {
      const answer = await rawGet(dev.url, path);
      expect(answer.status, `${path}: ${answer.head}`).toBeLessThan(500);
      const location = /\r\nlocation: ([^\r]*)/iu.exec(answer.head)?.[1];
      if (location !== undefined) expect(location, path).toMatch(/^[\u0021-\u007e]+$/u);
    }
  });

  it('a __Secure-rolegate_refresh planted by a sibling subdomain signs nobody in through the gate', async () => {
    const jar = new CookieJar();
    await form(jar, '/.netlify/functions/login', `email=${encodeURIComponent(EMAIL)}&password=${encodeURIComponent(PASSWORD)}`);
    const planted = jar.cookies.get('__Host-rolegate_refresh')!;
    const visitor = new CookieJar();
    visitor.cookies.set('__Secure-rolegate_refresh', planted);
    const gated = await request(visitor, `${dev.url}/members/`);
    expect(gated.status).toBe(302);
    const bounced = await request(visitor, new URL(gated.headers.get('location')!, dev.url).toString());
    expect(bounced.status).toBe(303);
    expect(bounced.headers.get('location')).toMatch(/^\/login\?next=/u);
    expect(visitor.cookies.has('nf_jwt')).toBe(false);
    // The planted token was not used up either: its owner still refreshes with it.
    const owner = await request(jar, `${dev.url}/.netlify/functions/refresh`, { method: 'POST', headers: { origin: dev.url } });
    expect(owner.status).toBe(200);
  });
});
