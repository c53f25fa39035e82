/**
 * The edge gate from outside: tokens an attacker can forge, and `rolegate gates build` in edge
 * mode (what it writes, what it leaves out of `_redirects`, and cleaning up when the site goes
 * back to redirects mode).
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT, UnsecuredJWT, importPKCS8 } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { gatesCommand } from '../../src/cli/gates.js';
import type { CliIo } from '../../src/cli/io.js';
import type { EdgeHandler } from '../../src/edge/gate.js';
import { compileGates, gateTableFromConfig } from '../../src/gates/compile.js';
import { parseGateConfig } from '../../src/site-config/schema.js';
import { bundleEdgeRuntime } from '../../scripts/edge-bundle.mjs';
import { mintToken, OTHER_SECRET, SITE_SECRET } from './matcher.js';
import { truthTableConfig } from './truth-table.js';
import { askGate, makeEdgeSite, SITE, type EdgeSite } from './edge-support.js';

const secret = new TextEncoder().encode(SITE_SECRET);
const now = () => Math.floor(Date.now() / 1000);
const adminClaims = () => ({ email: 'eve@example.com', sid: 's-1', app_metadata: { authorization: { roles: ['admin'] } }, user_metadata: {} });

function honest(): SignJWT {
  return new SignJWT(adminClaims()).setSubject('u-1').setIssuer('rolegate').setIssuedAt(now()).setExpirationTime(now() + 600);
}

describe('forged and misused tokens at the edge gate', () => {
  let site: EdgeSite;
  let gate: EdgeHandler;
  beforeAll(async () => {
    site = await makeEdgeSite(truthTableConfig);
    gate = await site.loadGenerated({ JWT_SECRET: SITE_SECRET, JWT_SECRET_PREVIOUS: OTHER_SECRET, SITE_URL: SITE, ROLEGATE_DATA_DIR: 'unused' });
  }, 60_000);
  afterAll(() => site?.close());

  const bounced = (nfJwt: string) => askGate(site, gate, '/admin/users.html', { nf_jwt: nfJwt });

  it('serves an honest admin token (the control for the cases below)', async () => {
    expect((await bounced(await honest().setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(secret))).served).toBe(true);
  });

  it.each<[string, () => Promise<string>]>([
    ['alg "none"', async () => new UnsecuredJWT(adminClaims()).setSubject('u-1').setIssuer('rolegate').setIssuedAt(now()).setExpirationTime(now() + 600).encode()],
    ['alg "none" with typ JWT and an empty signature', async () => {
      const [, payload] = (await honest().setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(secret)).split('.');
      return `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${payload}.`;
    }],
    ['RS256, signed with a key of its own', async () => {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      return honest().setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).sign(await importPKCS8(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'RS256'));
    }],
    ['HS256 keyed with an RSA public key (algorithm confusion)', async () => {
      const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      return honest().setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(publicKey.export({ type: 'spki', format: 'pem' }).toString()));
    }],
    ['HS512 with the right secret (only HS256 is accepted)', () => honest().setProtectedHeader({ alg: 'HS512', typ: 'JWT' }).sign(secret)],
    ['HS384 with the right secret', () => honest().setProtectedHeader({ alg: 'HS384', typ: 'JWT' }).sign(secret)],
    ['another issuer', () => new SignJWT(adminClaims()).setSubject('u-1').setIssuer('evil').setIssuedAt(now()).setExpirationTime(now() + 600).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(secret)],
    ['not valid yet (nbf in the future)', () => honest().setNotBefore(now() + 300).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(secret)],
    ['expired a second ago', () => new SignJWT(adminClaims()).setSubject('u-1').setIssuer('rolegate').setIssuedAt(now() - 601).setExpirationTime(now() - 1).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(secret)],
    ['roles as a string instead of a list', () => new SignJWT({ ...adminClaims(), app_metadata: { authorization: { roles: 'admin' } } }).setSubject('u-1').setIssuer('rolegate').setIssuedAt(now()).setExpirationTime(now() + 600).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(secret)],
    ['over 4 KiB', () => new SignJWT({ ...adminClaims(), user_metadata: { pad: 'x'.repeat(5000) } }).setSubject('u-1').setIssuer('rolegate').setIssuedAt(now()).setExpirationTime(now() + 600).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(secret)],
    ['a signature moved from another token', async () => {
      const [header, payload] = (await honest().setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(secret)).split('.');
      const other = (await mintToken('valid-with-role', ['member'])).split('.')[2];
      return `${header}.${payload}.${other}`;
    }],
    ['not a JWT at all', async () => 'admin'],
    ['a JWT split by commas', async () => 'a,b,c'],
  ])('bounces %s (302 to the refresh function, never an error page)', async (_name, forge) => {
    const answer = await bounced(await forge());
    expect(answer.status).toBe(302);
    expect(answer.location).toBe('/.netlify/functions/refresh/admin/users.html');
  });

  // Undecodable escapes and control characters: no browser sends them, so the gate refuses them
  // (400, never cached) rather than comparing them as sent, which would serve the page.
  it.each(['/admin/%', '/admin/%zz', '/admin/%E0%A4%A', '/admin/%00', '/admin/%0d%0aSet-Cookie:%20x=1', '/admin/%C2%85'])(
    'answers the malformed path %s with 400 no-store: no page, no redirect, no header injection',
    async (pathname) => {
      const admin = await mintToken('valid-with-role', ['admin']);
      for (const cookies of [{}, { nf_jwt: admin }] as Array<Record<string, string>>) {
        const answer = await askGate(site, gate, pathname, cookies);
        expect(answer.status).toBe(400);
        expect(answer.served).toBe(false);
        expect(answer.location).toBeNull();
        expect(answer.setCookies).toEqual([]);
        expect(answer.response.headers.get('cache-control')).toBe('no-store');
        expect([...answer.response.headers.keys()].sort()).toEqual(['cache-control', 'content-type']);
      }
    },
  );

  it.each(['/admin/%E2%80%A8', '/admin/%C3%A9%20x'])(
    'answers the odd but well-formed path %s with a same-site bounce, never an error or a header injection',
    async (pathname) => {
      const answer = await askGate(site, gate, pathname);
      expect(answer.status).toBe(302);
      const location = new URL(answer.location!, SITE);
      expect(location.origin).toBe(SITE);
      expect(location.pathname.startsWith('/.netlify/functions/refresh/admin/')).toBe(true);
      expect(answer.setCookies).toEqual([]);
    },
  );

  it('accepts a token signed with JWT_SECRET_PREVIOUS, for a secret rotation', async () => {
    const token = await honest().setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(OTHER_SECRET));
    expect((await bounced(token)).served).toBe(true);
  });

  it('reads only the nf_jwt cookie: a bearer header or another cookie name does not pass', async () => {
    const token = await mintToken('valid-with-role', ['admin']);
    const headers = { authorization: `Bearer ${token}`, cookie: `jwt=${token}; nf_jwt_x=${token}` };
    const context = { calls: 0, next: async () => { context.calls += 1; return new Response('page'); } };
    const response = await gate(new Request(`${SITE}/admin/users.html`, { headers }), context);
    expect(response.status).toBe(302);
    expect(context.calls).toBe(0);
  });
});

describe('one gate table for both modes', () => {
  it('compiles an edge-mode config to the same table the refresh function reads, with no Role= rule', () => {
    const redirects = compileGates(parseGateConfig({ ...truthTableConfig, mode: 'redirects' }));
    const edge = compileGates(parseGateConfig({ ...truthTableConfig, mode: 'edge' }));
    expect(edge.table).toEqual(redirects.table);
    expect(gateTableFromConfig({ ...truthTableConfig, mode: 'edge' })).toEqual(redirects.table);
    expect(redirects.rules.some((line) => line.includes(' Role='))).toBe(true);
    expect(edge.rules.filter((line) => !line.startsWith('#'))).toEqual(['/auth/login /.netlify/functions/login 200', '/auth/refresh /.netlify/functions/refresh 200', '/auth/logout /.netlify/functions/logout 200', '/auth/recover /.netlify/functions/recover 200', '/auth/verify /.netlify/functions/verify 200', '/auth/signup /.netlify/functions/signup 200', '/auth/invite /.netlify/functions/invite 200', '/auth/account /.netlify/functions/account 200', '/auth/magic-link /.netlify/functions/magic-link 200']);
  });
});

describe('the bundled edge runtime', () => {
  it('is self-contained: its only imports are node: built-ins, which Netlify\'s edge provides', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'rolegate-edge-bundle-')), 'edge-gate.js');
    const metafile = await bundleEdgeRuntime(path);
    const code = await readFile(path, 'utf8');
    // esbuild's own list of what the output still imports (a regex over the code
    // would also match import examples inside a bundled package's strings).
    const specifiers = Object.values(metafile.outputs).flatMap((output) => output.imports.map((i) => i.path));
    expect(specifiers.length).toBeGreaterThan(0);
    expect(specifiers.filter((s) => !s.startsWith('node:'))).toEqual([]);
    expect(code).not.toMatch(/\brequire\(/);
    await rm(path, { force: true });
  });
});

describe('rolegate gates build in edge mode', () => {
  let root: string;
  const edgeDir = () => join(root, 'netlify/edge-functions/rolegate-gate');

  it('finds the runtime that `npm run build` leaves in dist/ (npm test builds first)', () => {
    // Not built here on purpose: a build script that stops producing it must fail this suite.
    expect(existsSync(fileURLToPath(new URL('../../dist/edge-gate.js', import.meta.url))), 'run "npm run build"').toBe(true);
  });
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'rolegate-edge-cli-'));
    // The pages the config sends visitors to: without them every build warns.
    await mkdir(join(root, 'public'));
    await writeFile(join(root, 'public', 'login.html'), 'sign in');
    await writeFile(join(root, 'public', '403.html'), 'forbidden');
    return () => rm(root, { recursive: true, force: true });
  });

  async function run(argv: string[]) {
    const out = { stdout: '', stderr: '' };
    const io: CliIo = {
      stdout: { write: (text: string) => (out.stdout += text) },
      stderr: { write: (text: string) => (out.stderr += text) },
      readStdin: async () => '',
      stdinIsTTY: false,
      env: {},
      cwd: root,
    };
    return { code: await gatesCommand(argv, io), ...out };
  }
  const writeConfig = (mode: 'edge' | 'redirects') => writeFile(join(root, 'rolegate.config.json'), JSON.stringify({ ...truthTableConfig, mode }));

  it('writes the edge function and keeps only the auth rewrites in _redirects', async () => {
    await writeConfig('edge');
    const first = await run(['build']);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toBe('wrote public/_redirects: 9 rolegate rules\nwrote .netlify/v1/functions/: the functions login, logout, refresh, recover, verify, signup, invite, account, magic-link, mail-background, mail-scheduled\nwrote netlify/edge-functions/rolegate-gate/rolegate-gate.js: edge gate on 7 gates (mode "edge")\n');
    const redirects = await readFile(join(root, 'public/_redirects'), 'utf8');
    // No Role= rule: on plans where Netlify does not check the site's secret it would bounce everyone.
    expect(redirects).not.toContain('Role=');
    expect(redirects).toContain('/auth/login /.netlify/functions/login 200');
    const entry = await readFile(join(edgeDir(), 'rolegate-gate.js'), 'utf8');
    expect(entry).toMatch(/^\/\/ Generated by `rolegate gates build`/);
    expect(entry).toContain("import { createEdgeGate, edgeEnv } from './runtime.js';");
    expect(existsSync(join(edgeDir(), 'runtime.js'))).toBe(true);
    expect((await run(['build'])).stdout).toBe('public/_redirects is up to date (9 rolegate rules)\nup to date: .netlify/v1/functions/: the functions login, logout, refresh, recover, verify, signup, invite, account, magic-link, mail-background, mail-scheduled\nup to date: netlify/edge-functions/rolegate-gate/rolegate-gate.js: edge gate on 7 gates (mode "edge")\n');
  });

  it('removes the generated edge gate when the site goes back to redirects mode', async () => {
    await writeConfig('edge');
    await run(['build']);
    await writeConfig('redirects');
    const back = await run(['build']);
    expect(back.code).toBe(0);
    expect(back.stdout).toContain('removed the generated edge gate (netlify/edge-functions/rolegate-gate): mode is "redirects"');
    expect(existsSync(edgeDir())).toBe(false);
    expect(await readFile(join(root, 'public/_redirects'), 'utf8')).toContain('/admin/* /admin/:splat 200! Role=admin');
  });

  it('leaves a hand-written function of the same name alone', async () => {
    await mkdir(edgeDir(), { recursive: true });
    await writeFile(join(edgeDir(), 'rolegate-gate.js'), 'export default () => undefined;\n');
    await writeConfig('redirects');
    expect((await run(['build'])).stdout).not.toContain('removed');
    expect(await readFile(join(edgeDir(), 'rolegate-gate.js'), 'utf8')).toBe('export default () => undefined;\n');
  });

  it('explains and checks paths saying that the edge function decides in edge mode', async () => {
    await writeConfig('edge');
    expect((await run(['explain'])).stdout).toContain('mode "edge": the edge function netlify/edge-functions/rolegate-gate decides');
    const check = await run(['check', '/admin/users.html']);
    expect(check.stdout).toContain('bounce: fallback: bounce to refresh (302 /.netlify/functions/refresh/admin/users.html)');
    expect(check.stdout).toContain('mode "edge": decided by the edge function netlify/edge-functions/rolegate-gate');
    await writeConfig('redirects');
    expect((await run(['check', '/admin/users.html'])).stdout).not.toContain('mode "edge"');
  });
});

describe("Netlify's own edge bundler reads the generated declaration", () => {
  // @netlify/edge-bundler ships with netlify-cli (a devDependency); these are the steps of a
  // deploy that need no Deno: find the function, merge its inline config, build the manifest.
  it('routes the gated paths, escaped spellings included, and nothing else', async () => {
    const bundler = (await import('@netlify/edge-bundler')) as unknown as {
      find(directories: string[]): Promise<Array<{ name: string; path: string }>>;
      mergeDeclarations(toml: unknown[], user: Record<string, unknown>, internal: Record<string, unknown>, deploy: unknown[]): unknown[];
      generateManifest(options: Record<string, unknown>): { manifest: { routes: Array<{ function: string; pattern: string }>; function_config: Record<string, { on_error?: string }> }; unroutedFunctions: string[] };
      validateManifest(manifest: unknown): void;
    };
    const site = await makeEdgeSite(truthTableConfig);
    try {
      const functions = await bundler.find([join(site.root, 'netlify/edge-functions')]);
      expect(functions.map((f) => f.name)).toEqual(['rolegate-gate']);
      const userFunctionConfig = { 'rolegate-gate': site.declaration };
      const declarations = bundler.mergeDeclarations([], userFunctionConfig, {}, []);
      const { manifest, unroutedFunctions } = bundler.generateManifest({ functions, declarations, userFunctionConfig, bundles: [], layers: [] });
      expect(unroutedFunctions).toEqual([]);
      expect(() => bundler.validateManifest(manifest)).not.toThrow();
      expect(manifest.function_config['rolegate-gate']?.on_error).toBe('fail');
      const routed = (pathname: string) => manifest.routes.some((route) => new RegExp(route.pattern).test(pathname));
      for (const pathname of ['/admin', '/admin/', '/admin/users.html', '/%61dmin/users.html', '/admin%2fx', '/members/%C3%A9', '/staff/admin/x', '/reports/annual.html', '/reports/annual.html/', '/reports/annual%2Ehtml', '/x/../admin/y', '/reports/annual', '/reports/annual/', '/handbook.html', '/handbook/index', '/members/board', '/x/..%2Fadmin/y']) {
        expect(routed(pathname), pathname).toBe(true);
      }
      for (const pathname of ['/', '/login', '/auth/login', '/adminx', '/ADMIN/x', '/reports/annual.html/x', '/reports/monthly.html', '/reports/annual/x', '/handbook/x.html', '/reports/annualx']) {
        expect(routed(pathname), pathname).toBe(false);
      }
    } finally {
      await site.close();
    }
  });
});

describe('a gate over the whole site', () => {
  it('never gates the login page, the forbidden page, the auth paths or the functions', async () => {
    const site = await makeEdgeSite({ gates: [{ path: '/*', roles: ['team'], public: ['/login', '/403', '/style.css'] }] });
    try {
      const gate = await site.loadGenerated({ JWT_SECRET: SITE_SECRET, SITE_URL: SITE, ROLEGATE_DATA_DIR: 'unused' });
      for (const pathname of ['/login', '/login/', '/403', '/style.css', '/auth/login', '/auth/refresh', '/auth/logout', '/.netlify/functions/login', '/.netlify/functions/refresh/x', '/.netlify/images?url=/x']) {
        expect((await askGate(site, gate, pathname)).served, pathname).toBe(true);
      }
      for (const pathname of ['/', '/index.html', '/loginx', '/auth/other', '/docs/a.html']) {
        const answer = await askGate(site, gate, pathname);
        expect(answer.status, pathname).toBe(302);
      }
      expect((await askGate(site, gate, '/', { nf_jwt: await mintToken('valid-with-role', ['team']) })).served).toBe(true);
    } finally {
      await site.close();
    }
  }, 60_000);
});
