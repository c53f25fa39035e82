import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllRedirects } from '@netlify/redirect-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileGates, gateTableFromConfig } from '../../src/gates/compile.js';
import { parseGateConfig } from '../../src/site-config/schema.js';
import { BEGIN_MARKER, END_MARKER } from '../../src/gates/redirects-file.js';
import { explainPath, requiredRolesFor } from '../../src/gates/table.js';
import { loadMatcher, matchRequest } from './matcher.js';
import { truthTableConfig } from './truth-table.js';
// The refresh function reads the gates the same way: a JSON import that esbuild bundles.
import starterConfig from '../../rolegate.config.json' with { type: 'json' };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rolegate-compile-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface ParsedRedirect {
  from: string;
  to: string;
  status: number;
  force: boolean;
  conditions: { Role?: string[] };
}

async function parseWithNetlify(text: string): Promise<{ redirects: ParsedRedirect[]; errors: unknown[] }> {
  const file = join(dir, `_redirects-${Math.random().toString(36).slice(2)}`);
  await writeFile(file, text);
  const { redirects, errors } = await parseAllRedirects({ redirectsFiles: [file], netlifyConfigPath: undefined, configRedirects: [], minimal: false });
  return { redirects: redirects as ParsedRedirect[], errors };
}

describe('compileGates', () => {
  const compiled = compileGates(parseGateConfig(truthTableConfig));

  // netlify dev reads `//admin/x` as the URL http://admin/x (src/gates/compile.ts, hostFormsOf).
  const hostForm = (scheme: string, line: string) => line.replace(/^\/([^/\s]+)(\S*)/, (_match, segment: string, rest: string) => `${scheme}://${segment}${rest || '/'}`);
  const pathRules = compiled.rules.filter((line) => line.startsWith('/'));
  const hostRules = compiled.rules.filter((line) => /^https?:/.test(line));

  it('repeats every gate rule, in order, for the host netlify dev reads out of a //-path, for both schemes, before the path rules', () => {
    const gateLines = pathRules.filter((line) => !line.startsWith('/auth/'));
    for (const scheme of ['http', 'https']) {
      expect(hostRules.filter((line) => line.startsWith(`${scheme}:`))).toEqual(gateLines.map((line) => hostForm(scheme, line)));
    }
    expect(hostRules).toContain('https://admin/* /.netlify/functions/refresh/admin/:splat 302!');
    expect(hostRules).toContain('http://handbook/ /handbook 200! Role=staff');
    const lastHostRule = compiled.rules.lastIndexOf(hostRules.at(-1)!);
    expect(lastHostRule).toBeLessThan(compiled.rules.indexOf(gateLines[0]!));
  });

  it('warns, in redirects mode only, about each gate two or more segments deep, which netlify dev leaves open to a run of slashes', async () => {
    const gates = [{ path: '/admin/*', roles: ['admin'] }, { path: '/staff/admin/*', roles: ['admin'] }, { path: '/reports/annual.html', roles: ['finance'] }, { path: '/handbook', roles: ['staff'] }];
    const warned = compileGates(parseGateConfig({ mode: 'redirects', gates })).warnings;
    expect(warned).toHaveLength(2);
    expect(warned[0]).toMatch(/^gates\[1\] "\/staff\/admin\/\*": in redirects mode .* to \/staff\/\/\/admin\/…, where the static server serves the same page; "mode": "edge"/);
    expect(warned[1]).toMatch(/^gates\[2\] "\/reports\/annual.html": .* to \/reports\/\/annual.html,/);
    expect(compileGates(parseGateConfig({ mode: 'edge', gates })).warnings).toEqual([]);
    // What the warning says, measured with the matcher on the compiled rules: no rule applies.
    const matcher = await loadMatcher(compileGates(parseGateConfig({ mode: 'redirects', gates: gates.slice(1, 3) })).rules.join('\n'));
    expect(matcher.match(matchRequest('/staff///admin/x'))).toBeNull();
    expect(matcher.match(matchRequest('/reports//annual.html'))).toBeNull();
    expect(matcher.match(matchRequest('/staff//admin/x'))).not.toBeNull();
  });

  it('writes no host form where netlify dev would read the machine itself or cannot read a host', () => {
    const odd = compileGates(parseGateConfig({ mode: 'redirects', gates: [{ path: '/localhost/*', roles: ['a'] }, { path: '/127.0.0.1/*', roles: ['a'] }, { path: '/a:b/*', roles: ['a'] }, { path: '/a|b/*', roles: ['a'] }] }));
    expect(odd.rules.filter((line) => /^https?:/.test(line))).toEqual([]);
    const whole = compileGates(parseGateConfig({ mode: 'redirects', gates: [{ path: '/*', roles: ['team'], public: ['/login', '/403'] }] }));
    expect(whole.rules.filter((line) => /^https?:\/\/[^/]*\/\*/.test(line))).toEqual([]);
  });

  it('writes auth rewrites, then each gate most specific first: exceptions, Role rule, forced bounce, then the same pair for each other URL of an exact gate\'s page', () => {
    expect(pathRules).toEqual([
      '/auth/login /.netlify/functions/login 200',
      '/auth/refresh /.netlify/functions/refresh 200',
      '/auth/logout /.netlify/functions/logout 200',
      '/auth/recover /.netlify/functions/recover 200',
      '/auth/verify /.netlify/functions/verify 200',
      '/auth/signup /.netlify/functions/signup 200',
      '/auth/invite /.netlify/functions/invite 200',
      '/auth/account /.netlify/functions/account 200',
      '/auth/magic-link /.netlify/functions/magic-link 200',
      '/members/board/index.html /members/board/index.html 200! Role=admin',
      '/members/board/index.html /.netlify/functions/refresh/members/board/index.html 302!',
      '/members/board/index /members/board/index 200! Role=admin',
      '/members/board/index /.netlify/functions/refresh/members/board/index 302!',
      '/members/board /members/board 200! Role=admin',
      '/members/board /.netlify/functions/refresh/members/board 302!',
      '/reports/annual.html /reports/annual.html 200! Role=finance',
      '/reports/annual.html /.netlify/functions/refresh/reports/annual.html 302!',
      '/reports/annual /reports/annual 200! Role=finance',
      '/reports/annual /.netlify/functions/refresh/reports/annual 302!',
      '/staff/admin/* /staff/admin/:splat 200! Role=admin',
      '/staff/admin/* /.netlify/functions/refresh/staff/admin/:splat 302!',
      '/handbook /handbook 200! Role=staff',
      '/handbook /.netlify/functions/refresh/handbook 302!',
      '/handbook.html /handbook.html 200! Role=staff',
      '/handbook.html /.netlify/functions/refresh/handbook.html 302!',
      '/handbook.htm /handbook.htm 200! Role=staff',
      '/handbook.htm /.netlify/functions/refresh/handbook.htm 302!',
      '/handbook/index.html /handbook/index.html 200! Role=staff',
      '/handbook/index.html /.netlify/functions/refresh/handbook/index.html 302!',
      '/handbook/index.htm /handbook/index.htm 200! Role=staff',
      '/handbook/index.htm /.netlify/functions/refresh/handbook/index.htm 302!',
      '/handbook/index /handbook/index 200! Role=staff',
      '/handbook/index /.netlify/functions/refresh/handbook/index 302!',
      '/admin/login.html /admin/login.html 200',
      '/admin/login /admin/login 200',
      '/admin/assets/* /admin/assets/:splat 200',
      '/admin/* /admin/:splat 200! Role=admin',
      '/admin/* /.netlify/functions/refresh/admin/:splat 302!',
      '/members/* /members/:splat 200! Role=member,admin',
      '/members/* /.netlify/functions/refresh/members/:splat 302!',
      '/staff/* /staff/:splat 200! Role=staff',
      '/staff/* /.netlify/functions/refresh/staff/:splat 302!',
    ]);
  });

  it("parses with Netlify's own parser without errors, every rule as intended", async () => {
    const { redirects, errors } = await parseWithNetlify([BEGIN_MARKER, ...compiled.rules, END_MARKER, ''].join('\n'));
    expect(errors).toEqual([]);
    const summary = redirects.map((r) => ({ from: r.from, to: r.to, status: r.status, force: r.force, Role: r.conditions.Role }));
    const pathSummary = summary.filter((r) => r.from.startsWith('/'));
    for (const scheme of ['http', 'https']) {
      const hosts = summary.filter((r) => r.from.startsWith(`${scheme}:`));
      expect(hosts).toEqual(pathSummary.filter((r) => !r.from.startsWith('/auth/')).map((r) => ({ ...r, from: hostForm(scheme, r.from) })));
    }
    expect(pathSummary).toEqual([
      { from: '/auth/login', to: '/.netlify/functions/login', status: 200, force: false, Role: undefined },
      { from: '/auth/refresh', to: '/.netlify/functions/refresh', status: 200, force: false, Role: undefined },
      { from: '/auth/logout', to: '/.netlify/functions/logout', status: 200, force: false, Role: undefined },
      { from: '/auth/recover', to: '/.netlify/functions/recover', status: 200, force: false, Role: undefined },
      { from: '/auth/verify', to: '/.netlify/functions/verify', status: 200, force: false, Role: undefined },
      { from: '/auth/signup', to: '/.netlify/functions/signup', status: 200, force: false, Role: undefined },
      { from: '/auth/invite', to: '/.netlify/functions/invite', status: 200, force: false, Role: undefined },
      { from: '/auth/account', to: '/.netlify/functions/account', status: 200, force: false, Role: undefined },
      { from: '/auth/magic-link', to: '/.netlify/functions/magic-link', status: 200, force: false, Role: undefined },
      ...['/members/board/index.html', '/members/board/index', '/members/board'].flatMap((from) => [
        { from, to: from, status: 200, force: true, Role: ['admin'] },
        { from, to: `/.netlify/functions/refresh${from}`, status: 302, force: true, Role: undefined },
      ]),
      { from: '/reports/annual.html', to: '/reports/annual.html', status: 200, force: true, Role: ['finance'] },
      { from: '/reports/annual.html', to: '/.netlify/functions/refresh/reports/annual.html', status: 302, force: true, Role: undefined },
      { from: '/reports/annual', to: '/reports/annual', status: 200, force: true, Role: ['finance'] },
      { from: '/reports/annual', to: '/.netlify/functions/refresh/reports/annual', status: 302, force: true, Role: undefined },
      { from: '/staff/admin/*', to: '/staff/admin/:splat', status: 200, force: true, Role: ['admin'] },
      { from: '/staff/admin/*', to: '/.netlify/functions/refresh/staff/admin/:splat', status: 302, force: true, Role: undefined },
      ...['/handbook', '/handbook.html', '/handbook.htm', '/handbook/index.html', '/handbook/index.htm', '/handbook/index'].flatMap((from) => [
        { from, to: from, status: 200, force: true, Role: ['staff'] },
        { from, to: `/.netlify/functions/refresh${from}`, status: 302, force: true, Role: undefined },
      ]),
      { from: '/admin/login.html', to: '/admin/login.html', status: 200, force: false, Role: undefined },
      { from: '/admin/login', to: '/admin/login', status: 200, force: false, Role: undefined },
      { from: '/admin/assets/*', to: '/admin/assets/:splat', status: 200, force: false, Role: undefined },
      { from: '/admin/*', to: '/admin/:splat', status: 200, force: true, Role: ['admin'] },
      { from: '/admin/*', to: '/.netlify/functions/refresh/admin/:splat', status: 302, force: true, Role: undefined },
      { from: '/members/*', to: '/members/:splat', status: 200, force: true, Role: ['member', 'admin'] },
      { from: '/members/*', to: '/.netlify/functions/refresh/members/:splat', status: 302, force: true, Role: undefined },
      { from: '/staff/*', to: '/staff/:splat', status: 200, force: true, Role: ['staff'] },
      { from: '/staff/*', to: '/.netlify/functions/refresh/staff/:splat', status: 302, force: true, Role: undefined },
    ]);
  });

  it('never writes a lower-case role= or spaces inside Role=', () => {
    for (const line of compiled.rules.filter((l) => l.includes('Role'))) expect(line).toMatch(/ Role=[^\s,]+(?:,[^\s,]+)*$/);
    expect(compiled.rules.join('\n')).not.toMatch(/\brole=/);
  });

  it("an exact gate written without a target is dropped by Netlify's parser (why the target is explicit)", async () => {
    const { errors } = await parseWithNetlify('/reports/annual.html 200! Role=finance\n');
    expect(String(errors[0])).toContain('Missing "to" field');
  });

  it('uses the configured function and friendly paths', () => {
    const custom = compileGates(
      parseGateConfig({
        mode: 'redirects',
        gates: [{ path: '/docs/*', roles: ['team'] }],
        functions: { refresh: '/api/refresh' },
        friendlyPaths: { login: '/signin' },
      }),
    );
    expect(custom.rules).toContain('/docs/* /api/refresh/docs/:splat 302!');
    expect(custom.rules).toContain('/signin /.netlify/functions/login 200');
    expect(custom.table.refreshFunction).toBe('/api/refresh');
  });

  it('gates the whole site with /* when the login page, forbidden page and functions are opened', async () => {
    const whole = compileGates(
      parseGateConfig({ mode: 'redirects', gates: [{ path: '/*', roles: ['team'], public: ['/login', '/403', '/assets/*'] }] }),
    );
    expect(whole.rules).toContain('/* /:splat 200! Role=team');
    expect(whole.rules).toContain('/* /.netlify/functions/refresh/:splat 302!');
    expect(requiredRolesFor(whole.table, '/anything')).toEqual(['team']);
    // Platform paths are served before any rule (and Netlify refuses rules for them).
    expect(requiredRolesFor(whole.table, '/.netlify/functions/refresh')).toBeNull();
    expect(requiredRolesFor(whole.table, '/login')).toBeNull();
    const { errors } = await parseWithNetlify(whole.rules.join('\n'));
    expect(errors).toEqual([]);
  });

  it('still builds a whole-site gate that keeps the account pages closed, warning that visitors without a session could never reach them', () => {
    const whole = compileGates(parseGateConfig({ mode: 'redirects', gates: [{ path: '/*', roles: ['team'], public: ['/login', '/403'] }] }));
    const pages = whole.warnings.filter((w) => w.startsWith('accounts.pages.'));
    expect(pages.map((w) => w.split(' ')[0])).toEqual(['accounts.pages.forgotPassword', 'accounts.pages.checkEmail', 'accounts.pages.choosePassword', 'accounts.pages.signup', 'accounts.pages.confirm']);
    expect(pages[0]).toMatch(/inside gates\[0\] "\/\*", so visitors without a session \(someone signing up, or who forgot a password\) could never reach it/);
    const open = compileGates(parseGateConfig({ mode: 'redirects', gates: [{ path: '/*', roles: ['team'], public: ['/login', '/403', '/forgot-password', '/check-email', '/choose-password', '/signup', '/confirm'] }] }));
    expect(open.warnings.filter((w) => w.startsWith('accounts.pages.'))).toEqual([]);
  });
});

describe('publishDir "." (the site root is the site)', () => {
  const SOURCES = [
    '/rolegate.config.json', '/netlify.toml', '/package.json', '/tsconfig.json', '/.gitignore',
    '/package-lock.json', '/npm-shrinkwrap.json', '/yarn.lock', '/pnpm-lock.yaml', '/bun.lock', '/bun.lockb',
    '/.npmrc', '/.envrc', '/.env.example', '/.env.sample', '/.env.template',
    '/node_modules/pg/package.json', '/netlify/functions/whoami.ts', '/.rolegate/data/PG_VERSION', '/.git/config', '/supabase/migrations/1.sql',
  ];

  it.each(['edge', 'redirects'] as const)('answers 404 in mode "%s" for the site\'s own files (an .npmrc\'s token, the lockfiles…), through Netlify\'s matcher, and serves its pages', async (mode) => {
    const { rules } = compileGates(parseGateConfig({ mode, publishDir: '.', gates: [{ path: '/admin/*', roles: ['admin'] }] }));
    const { errors } = await parseWithNetlify(rules.join('\n'));
    expect(errors).toEqual([]);
    const matcher = await loadMatcher(rules.join('\n'));
    for (const path of SOURCES) expect(matcher.match(matchRequest(path)), path).toMatchObject({ to: '/404.html', status: 404, force: true });
    for (const path of ['/', '/index.html', '/login.html', '/about/', '/package.html', '/npmrc.html']) expect(matcher.match(matchRequest(path)), path).toBeNull();
  });

  it('writes none of those rules when the site publishes a folder of its own', () => {
    const { rules } = compileGates(parseGateConfig({ mode: 'edge', publishDir: 'public', gates: [{ path: '/admin/*', roles: ['admin'] }] }));
    expect(rules.filter((line) => line.includes('404!'))).toEqual([]);
  });
});

describe('gate table', () => {
  const table = gateTableFromConfig(truthTableConfig);

  it('compiles from the imported rolegate.config.json, as the refresh function will', () => {
    const starterTable = gateTableFromConfig(starterConfig);
    expect(requiredRolesFor(starterTable, '/admin/x')).toEqual(['admin']);
    expect(requiredRolesFor(starterTable, '/members')).toEqual(['member', 'admin']);
  });

  it('is plain JSON the refresh function can carry', () => {
    expect(JSON.parse(JSON.stringify(table))).toEqual(table);
    expect(table).toMatchObject({ version: 1, roleClaimPath: 'app_metadata.authorization.roles', loginPage: '/login', forbiddenPage: '/403' });
  });

  it('requiredRolesFor: nested gates, exceptions, not gated', () => {
    expect(requiredRolesFor(table, '/staff/admin/x')).toEqual(['admin']);
    expect(requiredRolesFor(table, '/staff/x')).toEqual(['staff']);
    expect(requiredRolesFor(table, '/members')).toEqual(['member', 'admin']);
    expect(requiredRolesFor(table, '/admin/login.html')).toBeNull();
    expect(requiredRolesFor(table, '/elsewhere')).toBeNull();
  });

  it('explainPath says which rule applies and why', () => {
    expect(explainPath(table, '/admin/login.html', []).reason).toBe('public exception /admin/login.html of gate /admin/*');
    expect(explainPath(table, '/admin/x', ['member', 'admin']).reason).toContain('allowed by Role=admin');
    const bounce = explainPath(table, '/admin', []);
    expect(bounce).toMatchObject({ verdict: 'bounce', location: '/.netlify/functions/refresh/admin/' });
    expect(bounce.reason).toMatch(/^fallback: bounce to refresh/);
    expect(explainPath(table, '/about', ['admin']).reason).toMatch(/^not gated/);
  });

  it('the gate order in the config does not change the result', () => {
    const reversed = gateTableFromConfig({ ...truthTableConfig, gates: [...truthTableConfig.gates].reverse() });
    for (const path of ['/staff/admin/x', '/staff/x', '/admin/login.html', '/admin/x', '/reports/annual.html']) {
      expect(requiredRolesFor(reversed, path)).toEqual(requiredRolesFor(table, path));
    }
  });
});

describe("an exact gate covers every path Netlify serves its page at (pretty URLs)", () => {
  const rolesAt = (gates: Parameters<typeof parseGateConfig>[0] extends infer C ? C : never, paths: string[]) => {
    const table = gateTableFromConfig(gates);
    return Object.fromEntries(paths.map((path) => [path, requiredRolesFor(table, path)]));
  };

  it('/p.html also gates /p and /p/; /dir/index.html also /dir, /dir/ and /dir/index; /p also its .html, .htm and index files', () => {
    expect(rolesAt({ gates: [{ path: '/a/p.html', roles: ['x'] }, { path: '/dir/index.html', roles: ['y'] }, { path: '/q', roles: ['z'] }] }, [
      '/a/p', '/a/p/', '/a/p.htm', '/dir', '/dir/', '/dir/index', '/dir.html', '/q.html', '/q.htm', '/q/', '/q/index.html', '/q/index.htm', '/q/index', '/q/other.html',
    ])).toEqual({
      '/a/p': ['x'], '/a/p/': ['x'], '/a/p.htm': null,
      '/dir': ['y'], '/dir/': ['y'], '/dir/index': ['y'], '/dir.html': null,
      '/q.html': ['z'], '/q.htm': ['z'], '/q/': ['z'], '/q/index.html': ['z'], '/q/index.htm': ['z'], '/q/index': ['z'], '/q/other.html': null,
    });
  });

  it('gates the site root with /index.html, and /index.html with /; other extensions have no other path', () => {
    const login = { loginPage: '/auth/login', forbiddenPage: '/auth/403' };
    expect(rolesAt({ ...login, gates: [{ path: '/index.html', roles: ['x'] }] }, ['/', '/index'])).toEqual({ '/': ['x'], '/index': ['x'] });
    expect(rolesAt({ ...login, gates: [{ path: '/', roles: ['x'] }] }, ['/index.html', '/index'])).toEqual({ '/index.html': ['x'], '/index': ['x'] });
    expect(rolesAt({ gates: [{ path: '/logo.png', roles: ['x'] }, { path: '/docs/v1.0', roles: ['y'] }] }, ['/logo', '/logo.png.html', '/docs/v1.0.html', '/docs/v1.0/index.html'])).toEqual({
      '/logo': null, '/logo.png.html': null, '/docs/v1.0.html': ['y'], '/docs/v1.0/index.html': ['y'],
    });
  });

  it('a public exception opens the same paths of its page, and nothing below them', () => {
    const paths = rolesAt({ gates: [{ path: '/docs/*', roles: ['team'], public: ['/docs/intro.html', '/docs/faq'] }] }, [
      '/docs/intro', '/docs/intro/', '/docs/intro/x', '/docs/faq.html', '/docs/faq/index.html', '/docs/faq/index', '/docs/faq/x.html',
    ]);
    expect(paths).toEqual({ '/docs/intro': null, '/docs/intro/': null, '/docs/intro/x': ['team'], '/docs/faq.html': null, '/docs/faq/index.html': null, '/docs/faq/index': null, '/docs/faq/x.html': ['team'] });
  });

  it('refuses two gates on the same page under different paths, in either order', () => {
    for (const gates of [
      [{ path: '/p', roles: ['a'] }, { path: '/p.html', roles: ['b'] }],
      [{ path: '/p.html', roles: ['b'] }, { path: '/p', roles: ['a'] }],
      [{ path: '/dir/index.html', roles: ['a'] }, { path: '/dir', roles: ['b'] }],
    ]) {
      expect(() => compileGates(parseGateConfig({ gates })), JSON.stringify(gates)).toThrow(/merge them into one gate/);
    }
    expect(() => compileGates(parseGateConfig({ gates: [{ path: '/p', roles: ['a'] }, { path: '/p.html', roles: ['b'] }] }))).toThrow(
      'gates[1] "/p.html": the same page as gates[0] "/p", which Netlify also serves at "/p.html" and which is matched first; merge them into one gate',
    );
  });

  it('refuses a public exception whose page a more specific exact gate keeps gated at one of its paths', () => {
    expect(() => compileGates(parseGateConfig({ gates: [{ path: '/docs/*', roles: ['team'], public: ['/docs/report'] }, { path: '/docs/report.html', roles: ['finance'] }] }))).toThrow(
      'gates[0].public[0] "/docs/report": gates[1] "/docs/report.html" is matched first at "/docs/report" (Netlify serves that gate\'s page there too), so the page would stay gated there; list it under that gate\'s "public" or move it',
    );
    expect(() => compileGates(parseGateConfig({ gates: [{ path: '/docs/*', roles: ['team'], public: ['/docs/guide.html'] }, { path: '/docs/guide/index.html', roles: ['finance'] }, { path: '/docs/guide', roles: ['finance'] }] }))).toThrow(/merge them into one gate/);
    expect(() => compileGates(parseGateConfig({ gates: [{ path: '/docs/*', roles: ['team'], public: ['/docs/guide.html'] }, { path: '/docs/guide/index.html', roles: ['finance'] }] }))).toThrow(
      'gates[0].public[0] "/docs/guide.html": gates[1] "/docs/guide/index.html" is matched first at "/docs/guide" (Netlify serves this page there too), so the page would stay gated there; list it under that gate\'s "public" or move it',
    );
  });

  it('refuses a gate that would lock the login page under its extensionless path', () => {
    expect(() => compileGates(parseGateConfig({ gates: [{ path: '/login.html', roles: ['x'] }] }))).toThrow(/loginPage "\/login": inside gates\[0\] "\/login.html"/);
  });

  it('explains a pretty path by the gate it belongs to, bounced back to the path asked for', () => {
    const table = gateTableFromConfig(truthTableConfig);
    expect(explainPath(table, '/reports/annual/', [])).toMatchObject({
      verdict: 'bounce',
      location: '/.netlify/functions/refresh/reports/annual',
      reason: 'fallback: bounce to refresh (302 /.netlify/functions/refresh/reports/annual); no valid token with any of finance (gate /reports/annual.html, served at /reports/annual too)',
    });
    expect(explainPath(table, '/admin/login', []).reason).toBe('public exception /admin/login.html (served at /admin/login too) of gate /admin/*');
  });
});

describe('the Identity API path', () => {
  it.each(['edge', 'redirects'] as const)('in mode "%s", rewrites /auth/identity/* to its function only when identityApi is enabled, outside every gate', async (mode) => {
    const gates = [{ path: '/*', roles: ['staff'], public: ['/login', '/403'] }];
    const off = compileGates(parseGateConfig({ mode, gates }));
    expect(off.rules.join('\n')).not.toContain('/auth/identity');
    const on = compileGates(parseGateConfig({ mode, gates, identityApi: { enabled: true } }));
    expect(on.rules).toContain('/auth/identity/* /.netlify/functions/identity-api/:splat 200');
    const { errors } = await parseWithNetlify(on.rules.join('\n'));
    expect(errors).toEqual([]);
    const matcher = await loadMatcher(on.rules.join('\n'));
    expect(matcher.match(matchRequest('/auth/identity/token'))).toMatchObject({ to: '/.netlify/functions/identity-api/token', status: 200 });
    expect(matcher.match(matchRequest('/auth/identity/admin/users/abc'))).toMatchObject({ to: '/.netlify/functions/identity-api/admin/users/abc', status: 200 });
    expect(explainPath(on.table, '/auth/identity/user', []).verdict).toBe('public');
    expect(explainPath(off.table, '/auth/identity/user', []).verdict).not.toBe('public');
  });
});

describe('the Identity API link page', () => {
  it('warns when the page mailed links open is behind a gate, and not when it is public', () => {
    const gated = compileGates(parseGateConfig({ gates: [{ path: '/*', roles: ['staff'], public: ['/login', '/403', '/forgot-password', '/check-email', '/choose-password', '/signup', '/confirm'] }], identityApi: { enabled: true } }));
    expect(gated.warnings.join('\n')).toMatch(/identityApi\.linkPage "\/": inside gates\[0\] "\/\*"/);
    const open = compileGates(parseGateConfig({ gates: [{ path: '/admin/*', roles: ['admin'] }], identityApi: { enabled: true, linkPage: '/cms' } }));
    expect(open.warnings.join('\n')).not.toMatch(/linkPage/);
    const off = compileGates(parseGateConfig({ gates: [{ path: '/*', roles: ['staff'], public: ['/login', '/403'] }], identityApi: { enabled: false } }));
    expect(off.warnings.join('\n')).not.toMatch(/linkPage/);
  });
});

describe('the admin API path and page', () => {
  it.each(['edge', 'redirects'] as const)('in mode "%s", rewrites /auth/admin/* to its function only when admin is enabled, outside every gate', async (mode) => {
    const gates = [{ path: '/admin/*', roles: ['admin'] }];
    const off = compileGates(parseGateConfig({ mode, gates }));
    expect(off.rules.join('\n')).not.toContain('/auth/admin');
    const on = compileGates(parseGateConfig({ mode, gates, admin: { enabled: true } }));
    expect(on.rules).toContain('/auth/admin/* /.netlify/functions/admin/:splat 200');
    expect((await parseWithNetlify(on.rules.join('\n'))).errors).toEqual([]);
    const matcher = await loadMatcher(on.rules.join('\n'));
    expect(matcher.match(matchRequest('/auth/admin/users/abc/roles'))).toMatchObject({ to: '/.netlify/functions/admin/users/abc/roles', status: 200 });
    expect(explainPath(on.table, '/auth/admin/users', []).verdict).toBe('public');
    expect(explainPath(on.table, '/admin/users', []).verdict).not.toBe('public');
  });

  it('refuses an admin page outside every gate, or behind a gate no admin role passes', () => {
    expect(() => compileGates(parseGateConfig({ gates: [{ path: '/members/*', roles: ['member'] }], admin: { enabled: true } })))
      .toThrow(/admin\.page "\/admin\/users" is not inside any gate; add one for it, e\.g\. \{ "path": "\/admin\/users", "roles": \["admin"\] \}/);
    expect(() => compileGates(parseGateConfig({ gates: [{ path: '/admin/*', roles: ['staff'] }], admin: { enabled: true } })))
      .toThrow(/admin\.page "\/admin\/users": inside gates\[0\] "\/admin\/\*", which none of admin\.roles \["admin"\] passes/);
    expect(() => compileGates(parseGateConfig({ gates: [{ path: '/admin/*', roles: ['staff', 'admin'] }], admin: { enabled: true } }))).not.toThrow();
    expect(() => compileGates(parseGateConfig({ gates: [{ path: '/members/*', roles: ['member'] }], admin: { enabled: false } }))).not.toThrow();
  });
});

describe('the provider sign-in path', () => {
  it.each(['edge', 'redirects'] as const)('in mode "%s", rewrites /auth/provider/* to its function only when providers are listed, outside every gate', async (mode) => {
    const gates = [{ path: '/*', roles: ['staff'], public: ['/login', '/403'] }];
    const off = compileGates(parseGateConfig({ mode, gates, providers: [] }));
    expect(off.rules.join('\n')).not.toContain('/auth/provider');
    const on = compileGates(parseGateConfig({ mode, gates, providers: [{ type: 'github' }] }));
    expect(on.rules).toContain('/auth/provider/* /.netlify/functions/provider/:splat 200');
    const { errors } = await parseWithNetlify(on.rules.join('\n'));
    expect(errors).toEqual([]);
    const matcher = await loadMatcher(on.rules.join('\n'));
    expect(matcher.match(matchRequest('/auth/provider/github'))).toMatchObject({ to: '/.netlify/functions/provider/github', status: 200 });
    expect(matcher.match(matchRequest('/auth/provider/github/callback'))).toMatchObject({ to: '/.netlify/functions/provider/github/callback', status: 200 });
    expect(explainPath(on.table, '/auth/provider/github/callback', []).verdict).toBe('public');
    expect(explainPath(off.table, '/auth/provider/github/callback', []).verdict).not.toBe('public');
  });
});
