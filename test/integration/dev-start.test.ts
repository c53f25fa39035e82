/**
 * `npm start` from outside: the real entry (`rolegate dev` through bin/rolegate.js and dist/cli.js, what `npm start` runs after the build)
 * on a copy of the site, once in each gate mode, probed the way someone on the machine (or, if
 * it listened there, the LAN) could: malformed and unsigned `nf_jwt` tokens, hostile requests,
 * and a look at which addresses its processes listen on, read from /proc, never by connecting to
 * any address but 127.0.0.1.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieJar, follow, request } from '../support/http-client.js';
import { copySite } from '../support/netlify-dev.js';
import { startRolegateDev, type RunningDev } from '../support/rolegate-dev.js';
import { listeningSockets } from '../dev/listening-sockets.js';

const ROOT = join(import.meta.dirname, '..', '..');
const DEV_ENTRY = join(ROOT, 'bin', 'rolegate.js');
const CLI_BUNDLE = join(ROOT, 'dist', 'cli.js');
const PASSWORD = 'a passphrase for the local admin';

function npmStart(root: string): Promise<RunningDev> {
  if (!existsSync(CLI_BUNDLE)) throw new Error('dist/cli.js is missing: run npm run build first');
  return startRolegateDev(root, { entry: DEV_ENTRY, adminPassword: PASSWORD });
}

function withMode(root: string, mode: 'edge' | 'redirects'): void {
  const path = join(root, 'rolegate.config.json');
  writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), mode }, null, 2));
}

const segment = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const HS256_HEADER = segment({ alg: 'HS256', typ: 'JWT' });

/** `nf_jwt` values no browser holds; the first six ended netlify dev (netlify-cli 27.10) when sent to a `Role=` path. */
const MALFORMED_TOKENS: Record<string, string> = {
  'payload is an array (the reported one)': 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.WzEsMiwzXQ.AAAA',
  'payload is a number': `${HS256_HEADER}.${segment('42')}.AAAA`,
  'payload is a string': `${HS256_HEADER}.${segment('"admin"')}.AAAA`,
  'payload is true': `${HS256_HEADER}.${segment('true')}.AAAA`,
  'header is an array': `${segment([1, 2, 3])}.${segment({ exp: 1 })}.AAAA`,
  'header is a number': `${segment('7')}.${segment({ exp: 1 })}.AAAA`,
  'payload is null': `${HS256_HEADER}.${segment('null')}.AAAA`,
  'payload is not JSON': `${HS256_HEADER}.${segment('{foo')}.AAAA`,
  'payload is not base64': `${HS256_HEADER}.!!!*.AAAA`,
  'one part': 'garbage',
  'two parts': 'a.b',
  'empty payload': `${HS256_HEADER}..AAAA`,
  'quoted': `"${HS256_HEADER}.${segment([1])}.AAAA"`,
};

function unsignedAdminToken(alg: string): string {
  const claims = { sub: '00000000-0000-4000-8000-000000000001', email: 'admin@example.com', iss: 'rolegate', iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 600, app_metadata: { authorization: { roles: ['admin'] } } };
  return `${segment({ alg, typ: 'JWT' })}.${segment(claims)}.`;
}

/** Sends raw bytes to 127.0.0.1:`port` and resolves to the status line of the answer ('' when the socket was only closed). */
function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let answer = '';
    socket.on('data', (d) => (answer += d));
    socket.on('error', () => resolve(answer.split('\r\n')[0] ?? ''));
    socket.on('close', () => resolve(answer.split('\r\n')[0] ?? ''));
    // Written, not ended: a client that half-closes before the answer gets none from Node's server.
    socket.setTimeout(10_000, () => socket.destroy());
    socket.write(bytes);
  });
}

async function status(url: string, cookie?: string): Promise<{ status: number; location: string | null }> {
  const response = await fetch(url, { redirect: 'manual', headers: cookie === undefined ? {} : { cookie } });
  await response.arrayBuffer();
  return { status: response.status, location: response.headers.get('location') };
}

/** Signs the seeded admin in through the login function and follows to /admin/. */
async function signedInAdminPage(url: string): Promise<{ status: number; body: string }> {
  const jar = new CookieJar();
  const login = await request(jar, `${url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: url, accept: 'application/json' },
    body: JSON.stringify({ email: 'admin@example.com', password: PASSWORD }),
  });
  expect(login.status, await login.clone().text()).toBe(200);
  return follow(jar, `${url}/admin/`);
}

for (const mode of ['edge', 'redirects'] as const) {
  describe(`npm start, mode "${mode}"`, () => {
    let site: ReturnType<typeof copySite>;
    let start: RunningDev;

    beforeAll(async () => {
      site = copySite();
      withMode(site.root, mode);
      start = await npmStart(site.root);
    }, 120_000);

    afterAll(async () => {
      await start?.stop();
      site?.remove();
    });

    it('treats a malformed nf_jwt on a gated path as no token and keeps answering (netlify dev used to die of some)', async () => {
      for (const [shape, token] of Object.entries(MALFORMED_TOKENS)) {
        for (const path of ['/admin/', '/members/x']) {
          const answered = await status(`${start.url}${path}`, `nf_jwt=${token}`).catch((error: Error) => ({ status: 0, location: error.message }));
          expect(answered, `${shape} on ${path}`).toEqual({ status: 302, location: expect.stringMatching(new RegExp(`/\\.netlify/functions/refresh${path}$`)) });
        }
        expect((await status(`${start.url}/`)).status, `still answering after: ${shape}`).toBe(200);
      }
      // A second copy after a good one, and a good one after a bad one, cannot smuggle it in either.
      const bad = MALFORMED_TOKENS['payload is an array (the reported one)'];
      expect((await status(`${start.url}/admin/`, `nf_jwt=${HS256_HEADER}.${segment({ exp: 1 })}.AAAA; nf_jwt=${bad}`)).status).toBe(302);
      expect((await status(`${start.url}/admin/`, `theme=dark; nf_jwt=${bad}; nf_jwt=${HS256_HEADER}.${segment({ exp: 1 })}.AAAA`)).status).toBe(302);
      expect((await status(`${start.url}/`)).status).toBe(200);
      // Well formed but with roles that are not a list: the edge gate bounces it; netlify dev's
      // matcher (redirects mode) answers its own 400, and lives on.
      const stringRoles = `${HS256_HEADER}.${segment({ exp: 4102444800, app_metadata: { authorization: { roles: 'admin' } } })}.AAAA`;
      expect((await status(`${start.url}/admin/`, `nf_jwt=${stringRoles}`)).status).toBe(mode === 'edge' ? 302 : 400);
      expect((await status(`${start.url}/`)).status).toBe(200);
      expect((await signedInAdminPage(start.url)).status).toBe(200);
      expect(start.child.exitCode).toBeNull();
    });

    it('lets the CLI in another terminal manage users while it runs, on the same database the site signs in against', async () => {
      const cli = (args: string[], input = '') => spawnSync(process.execPath, [DEV_ENTRY, ...args], {
        cwd: site.root, input, encoding: 'utf8', env: { ...process.env, JWT_SECRET: '', DATABASE_URL: '', SUPABASE_URL: '', ROLEGATE_DATA_DIR: '', BCRYPT_COST: '10' },
      });
      const email = `member-${mode}@example.com`;
      const added = cli(['users', 'add', '--email', email, '--roles', 'member', '--password-stdin'], 'a passphrase for the new member\n');
      expect(added.stderr).toBe('');
      expect(added.status).toBe(0);
      expect(cli(['users', 'list']).stdout).toContain(email);
      const jar = new CookieJar();
      const login = await request(jar, `${start.url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: start.url, accept: 'application/json' },
        body: JSON.stringify({ email, password: 'a passphrase for the new member' }),
      });
      expect(login.status, await login.clone().text()).toBe(200);
      expect((await follow(jar, `${start.url}/members/`)).status).toBe(200);
      // A role taken away at the terminal holds at the next refresh.
      expect(cli(['users', 'set-roles', '--email', email, '--roles', '']).status).toBe(0);
      const refreshed = await request(jar, `${start.url}/auth/refresh`, { method: 'POST', headers: { origin: start.url, accept: 'application/json' } });
      expect(((await refreshed.json()) as { user: { roles: string[] } }).user.roles).toEqual([]);
    });

    it('survives hostile requests (odd methods, bad targets, huge headers) and answers to no other host name than this machine\'s', async () => {
      const port = Number(new URL(start.url).port);
      const answers = {
        unknownMethod: await rawRequest(port, 'FOO /admin/ HTTP/1.1\r\nHost: localhost\r\n\r\n'),
        trace: await rawRequest(port, 'TRACE /admin/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'),
        connect: await rawRequest(port, 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n'),
        absoluteForm: await rawRequest(port, 'GET http://example.com/admin/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n'),
        asterisk: await rawRequest(port, 'OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'),
        hugeHeader: await rawRequest(port, `GET /admin/ HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`),
        hugeCookie: await rawRequest(port, `GET /admin/ HTTP/1.1\r\nHost: localhost\r\nCookie: nf_jwt=${'W'.repeat(60_000)}\r\n\r\n`),
        badHeaderBytes: await rawRequest(port, 'GET /admin/ HTTP/1.1\r\nHost: localhost\r\nX-Bad: a\u0000b\r\n\r\n'),
        notHttp: await rawRequest(port, '\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003'),
        // DNS rebinding: a page on another site whose name now resolves to 127.0.0.1.
        reboundName: await rawRequest(port, `GET /admin/ HTTP/1.1\r\nHost: attacker.example:${port}\r\nConnection: close\r\n\r\n`),
      };
      expect(answers).toEqual({
        unknownMethod: 'HTTP/1.1 400 Bad Request',
        trace: 'HTTP/1.1 405 Method Not Allowed',
        connect: 'HTTP/1.1 405 Method Not Allowed',
        absoluteForm: 'HTTP/1.1 400 Bad Request',
        asterisk: 'HTTP/1.1 400 Bad Request',
        hugeHeader: 'HTTP/1.1 431 Request Header Fields Too Large',
        hugeCookie: 'HTTP/1.1 431 Request Header Fields Too Large',
        badHeaderBytes: 'HTTP/1.1 400 Bad Request',
        notHttp: 'HTTP/1.1 400 Bad Request',
        reboundName: 'HTTP/1.1 421 Misdirected Request',
      });
      expect((await status(`${start.url}/`)).status).toBe(200);
      expect(start.child.exitCode).toBeNull();
    });

    it('listens on 127.0.0.1 only, in every process it starts', () => {
      const sockets = listeningSockets(start.child.pid!);
      const front = Number(new URL(start.url).port);
      expect(sockets.filter((s) => s.address !== '127.0.0.1')).toEqual([]);
      expect(sockets.map((s) => s.port)).toContain(front);
      // The front server in npm start's process, netlify dev's proxy, static and functions servers in its own.
      expect(new Set(sockets.map((s) => s.pid)).size).toBeGreaterThan(1);
    });

    it("keeps netlify dev's own port for the front server: a request straight to it gets 403, never the page", async () => {
      const internalPort = /netlify dev runs on 127\.0\.0\.1:(\d+) behind/.exec(start.output())?.[1];
      expect(internalPort, 'npm start names netlify dev\'s port').toBeDefined();
      for (const path of ['/admin/', '/members/x', '/']) {
        const answered = await fetch(`http://127.0.0.1:${internalPort}${path}`, { redirect: 'manual', headers: { 'x-rolegate-front': 'a guess' } });
        expect([answered.status, await answered.text()], path).toEqual([403, expect.stringContaining("netlify dev's internal port")]);
      }
      expect((await signedInAdminPage(start.url)).status).toBe(200);
    });

    it('never serves the admin page to an anonymous visitor under a spelling netlify dev resolves to it (runs of slashes, dot segments)', async () => {
      const port = Number(new URL(start.url).port);
      for (const target of ['//admin/', '///admin/', '//admin//index.html', '/.//admin/', '/x/..//admin/', '/%2E//admin/', '/\\admin/', '//%61dmin/']) {
        const line = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
        expect(line, target).toMatch(/^HTTP\/1\.1 (302|303|308|400) /);
      }
    });

    if (mode === 'edge') {
      it('runs the real edge gate: an unsigned admin token is bounced, never served, while a signed one is', async () => {
        for (const alg of ['none', 'None', 'NONE']) {
          const answered = await status(`${start.url}/admin/`, `nf_jwt=${unsignedAdminToken(alg)}`);
          expect(answered, `alg ${alg}`).toEqual({ status: 302, location: '/.netlify/functions/refresh/admin/' });
        }
        // The gate's own answer, not netlify dev's: the edge gate refuses a path with an escaped dot segment.
        expect((await status(`${start.url}/x/..%2Fadmin/`)).status).toBe(400);
        expect(readFileSync(join(site.root, 'public', '_redirects'), 'utf8')).not.toMatch(/Role=/);
        const page = await signedInAdminPage(start.url);
        expect(page.status).toBe(200);
        expect(page.body).toContain('Admin area');
      });
    }
  });
}
