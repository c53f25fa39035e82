import { compileSiteConfig } from '../../src/site-config/compile.js';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { compileGates, loadGateConfig } from '../../src/gates/compile.js';
import { GateConfigError, gateConfigJsonSchema, gateConfigSchema, parseGateConfig } from '../../src/site-config/schema.js';
import { pathPatternProblem } from '../../src/gates/path-pattern.js';
import { roleNameProblem } from '../../src/core/role-name.js';

const repoRoot = new URL('../../', import.meta.url);
const readRepoJson = async (name: string) => JSON.parse(await readFile(new URL(name, repoRoot), 'utf8')) as unknown;

// ajv comes with netlify-cli (not a direct dependency); only these tests use it, to check the
// shipped JSON Schema the way editors will.
const require = createRequire(import.meta.url);
const Ajv2020 = require('ajv/dist/2020').default as new (options: object) => { compile(schema: object): ((data: unknown) => boolean) & { errors?: unknown } };

function problemsOf(value: unknown): string[] {
  try {
    const config = parseGateConfig(value);
    compileGates(config);
    return [];
  } catch (error) {
    if (error instanceof GateConfigError) return [...error.problems];
    throw error;
  }
}

const gate = (path: string, roles: string[] = ['admin'], publicPaths?: string[]) => ({ path, roles, ...(publicPaths ? { public: publicPaths } : {}) });

describe('rolegate.config.json errors name the entry and the reason', () => {
  it.each([
    ['role with a space', { gates: [gate('/admin/*'), gate('/team/*', ['Admin user'])] }, 'gates[1].roles[0] "Admin user": role names may not contain spaces'],
    ['role with a comma', { gates: [gate('/a/*', ['a,b'])] }, 'gates[0].roles[0] "a,b": role names may not contain commas (Role= separates roles with commas)'],
    ['role with a colon', { gates: [gate('/a/*', [':admin'])] }, 'gates[0].roles[0] ":admin": role names may use only letters, digits'],
    ['empty role list', { gates: [gate('/a/*', [])] }, 'gates[0].roles: a gate needs at least one role'],
    ['path without leading slash', { gates: [gate('admin/*')] }, 'gates[0].path "admin/*": must start with "/"'],
    ['splat in the middle', { gates: [gate('/admin/*/x')] }, 'gates[0].path "/admin/*/x": a splat is only allowed as a trailing "/*"'],
    ['splat glued to a name', { gates: [gate('/admin*')] }, 'gates[0].path "/admin*": a splat is only allowed as a trailing "/*"'],
    ['query string', { gates: [gate('/admin?x=1')] }, 'gates[0].path "/admin?x=1": may not contain "?" or "#"'],
    ['fragment', { gates: [gate('/admin#top')] }, 'gates[0].path "/admin#top": may not contain "?" or "#"'],
    ['space', { gates: [gate('/my admin/*')] }, 'gates[0].path "/my admin/*": may not contain spaces'],
    ['placeholder', { gates: [gate('/users/:id')] }, 'gates[0].path "/users/:id": ":placeholders" are not supported'],
    ['trailing slash', { gates: [gate('/admin/')] }, 'gates[0].path "/admin/": may not end with "/": write "/admin" for the page or "/admin/*" for the tree'],
    ['percent escape', { gates: [gate('/caf%C3%A9/*')] }, 'gates[0].path "/caf%C3%A9/*": may not contain "%"'],
    ['dot-dot', { gates: [gate('/a/../b/*')] }, 'gates[0].path "/a/../b/*": may not contain "." or ".." segments'],
    ['platform path', { gates: [gate('/.netlify/functions/*')] }, 'gates[0].path "/.netlify/functions/*": Netlify never applies _redirects rules to /.netlify/ paths'],
    ['splat in the login page', { gates: [], loginPage: '/login/*' }, 'loginPage "/login/*": must be an exact path (no "*")'],
    ['shadowed gate', { gates: [gate('/admin/*'), gate('/members/*'), gate('/admin/*', ['staff'])] }, 'gates[2] "/admin/*": shadowed by the earlier gates[0] "/admin/*" (same path, so it would never match); merge their roles into one gate'],
    ['exception outside its gate', { gates: [gate('/admin/*', ['admin'], ['/blog/post.html'])] }, 'gates[0].public[0] "/blog/post.html": outside its gate "/admin/*"'],
    ['exception that opens the whole gate', { gates: [gate('/admin/*', ['admin'], ['/admin/*'])] }, 'gates[0].public[0] "/admin/*": opens the whole gate "/admin/*"; remove the gate instead'],
    ['exception inside a nested gate', { gates: [gate('/staff/*', ['staff'], ['/staff/admin/help.html']), gate('/staff/admin/*')] }, 'gates[0].public[0] "/staff/admin/help.html": inside the more specific gates[1] "/staff/admin/*", which is matched first'],
    ['login page inside a gate', { gates: [gate('/*', ['team'])], loginPage: '/login' }, 'loginPage "/login": inside gates[0] "/*", so visitors without a session could never reach the login page'],
    ['forbidden page inside a gate', { gates: [gate('/members/*', ['member'])], forbiddenPage: '/members/403.html' }, 'forbiddenPage "/members/403.html": inside gates[0] "/members/*", so visitors without the role would be bounced'],
    ['function moved inside a gate', { gates: [gate('/api/*', ['team'])], functions: { refresh: '/api/refresh' } }, 'functions.refresh "/api/refresh": inside gates[0] "/api/*", so the bounce would loop'],
    ['unknown mode', { mode: 'lambda', gates: [] }, 'mode "lambda": '],
    ['unknown key', { gates: [{ path: '/a/*', role: ['admin'] }] }, 'gates[0]: unknown key "role"'],
    ['missing gates', {}, 'gates: is required'],
    ['publishDir outside the site', { gates: [], publishDir: '../elsewhere' }, 'publishDir "../elsewhere": must be a relative path inside the site'],
  ])('%s', (_name, value, expected) => {
    const problems = problemsOf(value);
    expect(problems.some((p) => p.startsWith(expected)), `problems: ${JSON.stringify(problems)}`).toBe(true);
  });

  it('lists every problem at once, in one error that names the file', () => {
    expect(() => loadGateConfig(JSON.stringify({ gates: [gate('admin'), gate('/x/*', ['a b'])] }), 'site/rolegate.config.json')).toThrow(
      /^site\/rolegate\.config\.json is invalid:\n {2}- gates\[0\]\.path "admin": must start with "\/"\n {2}- gates\[1\]\.roles\[0\] "a b": role names may not contain spaces$/,
    );
  });

  it('reports broken JSON as such', () => {
    expect(() => loadGateConfig('{"gates": [')).toThrow(/rolegate\.config\.json is invalid:\n {2}- not valid JSON/);
  });

  it('warns, without failing, when two roles differ only by case', () => {
    const { compiled } = loadGateConfig(JSON.stringify({ gates: [gate('/admin/*', ['admin']), gate('/team/*', ['Admin', 'team'])] }));
    expect(compiled.warnings).toEqual([
      'gates[1].roles[0] "Admin" and gates[0].roles[0] "admin" differ only by case; Netlify compares roles case-sensitively, so they are two different roles',
    ]);
  });

  it('fills the accounts section: registration closed, confirmation asked, the account pages, and link lifetimes that may be shorter but not longer', () => {
    expect(compileSiteConfig({ gates: [] }).accounts).toEqual({
      registration: 'closed',
      allowedDomains: [],
      newUserRoles: [],
      requireConfirmation: true,
      inviterRoles: ['admin'],
      signInLinks: false,
      pages: { forgotPassword: '/forgot-password', checkEmail: '/check-email', choosePassword: '/choose-password', signup: '/signup', confirm: '/confirm', account: '/account' },
      linkLifetimes: { recovery: 3600, signup: 86400, invite: 604800, emailChange: 86400, magicLink: 900 },
      verifyPath: '/auth/verify',
      verifyPaths: ['/.netlify/functions/verify', '/auth/verify'],
      friendlyPaths: ['/auth/recover', '/auth/verify', '/auth/signup', '/auth/invite', '/auth/account', '/auth/magic-link'],
      identityApi: { enabled: false, basePath: '/auth/identity', adminRoles: ['admin'], linkPage: '/' },
      admin: { enabled: false, basePath: '/auth/admin', roles: ['admin'], page: '/admin/users' },
      providers: [],
    });
    expect(compileSiteConfig({ gates: [], accounts: { linkLifetimes: { recovery: 900 } } }).accounts.linkLifetimes.recovery).toBe(900);
    expect(() => parseGateConfig({ gates: [], accounts: { linkLifetimes: { recovery: 7200 } } })).toThrow(/accounts\.linkLifetimes\.recovery/);
    expect(() => parseGateConfig({ gates: [], accounts: { linkLifetimes: { invite: 8 * 86400 } } })).toThrow(/accounts\.linkLifetimes\.invite/);
    expect(() => parseGateConfig({ gates: [], accounts: { pages: { checkEmail: 'check-email' } } })).toThrow(/accounts\.pages\.checkEmail/);
  });

  it('fills each provider\'s defaults (names, issuers, GitHub\'s API, variables, required scopes) and names a bad entry', () => {
    const { providers } = compileSiteConfig({
      gates: [],
      providers: [
        { type: 'github' },
        { type: 'github', id: 'work-github', url: 'https://github.example.com/', clientIdEnv: 'WORK_GH_ID' },
        { type: 'google', scopes: ['profile'] },
        { type: 'oidc', id: 'acme', name: 'Acme', issuer: 'https://sso.acme.example/realms/staff' },
      ],
    }).accounts;
    expect(providers).toEqual([
      { id: 'github', kind: 'github', name: 'GitHub', webUrl: 'https://github.com', apiUrl: 'https://api.github.com',
        clientIdEnv: 'GITHUB_CLIENT_ID', clientSecretEnv: 'GITHUB_CLIENT_SECRET', scopes: ['user:email', 'read:user'] },
      { id: 'work-github', kind: 'github', name: 'GitHub', webUrl: 'https://github.example.com', apiUrl: 'https://github.example.com/api/v3',
        clientIdEnv: 'WORK_GH_ID', clientSecretEnv: 'WORK_GITHUB_CLIENT_SECRET', scopes: ['user:email', 'read:user'] },
      { id: 'google', kind: 'google', name: 'Google', issuer: 'https://accounts.google.com', clientIdEnv: 'GOOGLE_CLIENT_ID', clientSecretEnv: 'GOOGLE_CLIENT_SECRET', scopes: ['openid', 'email', 'profile'] },
      { id: 'acme', kind: 'oidc', name: 'Acme', issuer: 'https://sso.acme.example/realms/staff', clientIdEnv: 'ACME_CLIENT_ID', clientSecretEnv: 'ACME_CLIENT_SECRET', scopes: ['openid', 'email', 'profile'] },
    ]);
    expect(compileSiteConfig({ gates: [] }).accounts.providers).toEqual([]);
    expect(() => parseGateConfig({ gates: [], providers: [{ type: 'oidc' }] })).toThrow(/providers\[0\]\.issuer: is required for an "oidc" provider/);
    expect(() => parseGateConfig({ gates: [], providers: [{ type: 'oidc', issuer: 'http://sso.example' }] })).toThrow(/providers\[0\]\.issuer "http:\/\/sso.example": must be an https URL/);
    expect(() => parseGateConfig({ gates: [], providers: [{ type: 'oidc', issuer: 'https://sso.example/?x=1' }] })).toThrow(/no query/);
    expect(() => parseGateConfig({ gates: [], providers: [{ type: 'google', issuer: 'https://accounts.google.com' }] })).toThrow(/providers\[0\]\.issuer: has no meaning/);
    expect(() => parseGateConfig({ gates: [], providers: [{ type: 'gitlab', url: 'https://gitlab.example' }] })).toThrow(/providers\[0\]\.url: is for "github" only/);
    expect(() => parseGateConfig({ gates: [], providers: [{ type: 'github' }, { type: 'github' }] })).toThrow(/providers\[1\]\.id: "github" names two providers/);
    expect(() => parseGateConfig({ gates: [], providers: [{ type: 'github', id: 'Git Hub' }] })).toThrow(/providers\[0\]\.id/);
    expect(() => parseGateConfig({ gates: [], providers: [{ type: 'github', clientSecretEnv: 'lower' }] })).toThrow(/providers\[0\]\.clientSecretEnv/);
    expect(() => parseGateConfig({ gates: [], providers: [{ type: 'facebook' }] })).toThrow(/providers\[0\]\.type/);
    expect(() => parseGateConfig({ gates: [], providers: [{ type: 'github', secret: 'x' }] })).toThrow(/unknown key "secret"/);
    expect(parseGateConfig({ gates: [], providers: [{ type: 'oidc', issuer: 'http://127.0.0.1:4000' }] }).providers).toHaveLength(1);
  });

  it('turns the Identity API on only when identityApi.enabled says so, and names a bad entry', () => {
    expect(compileSiteConfig({ gates: [], identityApi: {} }).accounts.identityApi.enabled).toBe(false);
    const on = compileSiteConfig({ gates: [], identityApi: { enabled: true, adminRoles: ['editor'], linkPage: '/cms' } }).accounts.identityApi;
    expect(on).toEqual({ enabled: true, basePath: '/auth/identity', adminRoles: ['editor'], linkPage: '/cms' });
    expect(() => parseGateConfig({ gates: [], identityApi: { enabled: 'yes' } })).toThrow(/identityApi\.enabled/);
    expect(() => parseGateConfig({ gates: [], identityApi: { adminRoles: [] } })).toThrow(/identityApi\.adminRoles/);
    expect(() => parseGateConfig({ gates: [], identityApi: { linkPage: 'cms' } })).toThrow(/identityApi\.linkPage/);
    expect(() => parseGateConfig({ gates: [], identityApi: { path: '/x' } })).toThrow(/identityApi: unknown key "path"/);
  });

  it('turns the admin API on only when admin.enabled says so, and names a bad entry', () => {
    const on = compileSiteConfig({ gates: [{ path: '/staff/*', roles: ['owner'] }], admin: { enabled: true, roles: ['owner'], page: '/staff/users' } }).accounts.admin;
    expect(on).toEqual({ enabled: true, basePath: '/auth/admin', roles: ['owner'], page: '/staff/users' });
    expect(() => parseGateConfig({ gates: [], admin: { enabled: 1 } })).toThrow(/admin\.enabled/);
    expect(() => parseGateConfig({ gates: [], admin: { roles: [] } })).toThrow(/admin\.roles/);
    expect(() => parseGateConfig({ gates: [], admin: { page: 'users' } })).toThrow(/admin\.page/);
    expect(() => parseGateConfig({ gates: [], admin: { path: '/x' } })).toThrow(/admin: unknown key "path"/);
  });

  it('takes a registration policy, allowed domains and roles for new users, and names a wrong one', () => {
    const open = compileSiteConfig({ gates: [], accounts: { registration: 'open', allowedDomains: ['example.com'], newUserRoles: ['member'], requireConfirmation: false } }).accounts;
    expect(open).toMatchObject({ registration: 'open', allowedDomains: ['example.com'], newUserRoles: ['member'], requireConfirmation: false });
    expect(() => parseGateConfig({ gates: [], accounts: { registration: 'public' } })).toThrow(/accounts\.registration/);
    expect(() => parseGateConfig({ gates: [], accounts: { allowedDomains: ['@example.com'] } })).toThrow(/accounts\.allowedDomains\[0\].*lower case/);
    expect(() => parseGateConfig({ gates: [], accounts: { allowedDomains: ['Example.COM'] } })).toThrow(/accounts\.allowedDomains\[0\]/);
    expect(() => parseGateConfig({ gates: [], accounts: { newUserRoles: ['a,b'] } })).toThrow(/accounts\.newUserRoles\[0\].*commas/);
    expect(() => parseGateConfig({ gates: [], accounts: { inviterRoles: [] } })).toThrow(/accounts\.inviterRoles/);
  });

  it('fills the documented defaults: edge mode, which verifies tokens itself', () => {
    expect(parseGateConfig({ gates: [] })).toEqual({
      mode: 'edge',
      gates: [],
      loginPage: '/login',
      forbiddenPage: '/403',
      functions: {
        login: '/.netlify/functions/login', refresh: '/.netlify/functions/refresh', logout: '/.netlify/functions/logout',
        recover: '/.netlify/functions/recover', verify: '/.netlify/functions/verify',
        signup: '/.netlify/functions/signup', invite: '/.netlify/functions/invite', account: '/.netlify/functions/account', magicLink: '/.netlify/functions/magic-link',
      },
      friendlyPaths: {
        login: '/auth/login', refresh: '/auth/refresh', logout: '/auth/logout', recover: '/auth/recover', verify: '/auth/verify',
        signup: '/auth/signup', invite: '/auth/invite', account: '/auth/account', magicLink: '/auth/magic-link',
      },
      roleClaimPath: 'app_metadata.authorization.roles',
      publishDir: 'public',
    });
  });
});

describe('the starter config and the JSON Schema shipped for editors', () => {
  it('the starter gates /admin/* to admin and /members/* to member or admin', async () => {
    const starter = await readRepoJson('rolegate.config.json');
    const { config, compiled } = loadGateConfig(JSON.stringify(starter));
    expect(config.gates).toEqual([
      { path: '/admin/*', roles: ['admin'], public: [] },
      { path: '/members/*', roles: ['member', 'admin'], public: [] },
    ]);
    expect(compiled.warnings).toEqual([]);
    expect((starter as { $schema: string }).$schema).toBe('./rolegate.config.schema.json');
  });

  it('the starter runs in edge mode, the default: no Role= rule that Netlify\'s matcher would open to an unsigned token', async () => {
    const starter = (await readRepoJson('rolegate.config.json')) as { mode?: string };
    expect(starter.mode).toBe('edge');
    expect(parseGateConfig({ gates: [] }).mode).toBe('edge');
    expect(loadGateConfig(JSON.stringify(starter)).compiled.rules.some((rule) => rule.includes('Role='))).toBe(false);
  });

  it('rolegate.config.schema.json is exactly what the zod schema generates (regenerate: rolegate gates schema)', async () => {
    expect(await readRepoJson('rolegate.config.schema.json')).toEqual(gateConfigJsonSchema());
  });

  it('the starter validates against the JSON Schema', async () => {
    const validate = new Ajv2020({ strict: false }).compile(gateConfigJsonSchema());
    expect(validate(await readRepoJson('rolegate.config.json'))).toBe(true);
  });

  const samples: Array<[string, unknown]> = [
    ['minimal', { gates: [] }],
    ['full', { $schema: 'x', mode: 'redirects', gates: [gate('/a/*', ['x.y', 'z_1'], ['/a/b', '/a/c/*'])], loginPage: '/', forbiddenPage: '/403.html', roleClaimPath: 'roles', publishDir: 'dist/site' }],
    ['whole site', { gates: [gate('/*')] }],
    ['unicode path', { gates: [gate('/über/*')] }],
    ['dotfile segment', { gates: [gate('/.well-known/private/*')] }],
    ['role with space', { gates: [gate('/a/*', ['a b'])] }],
    ['role too long', { gates: [gate('/a/*', ['r'.repeat(65)])] }],
    ['role starting with a dot', { gates: [gate('/a/*', ['.x'])] }],
    ['mid splat', { gates: [gate('/a/*/b')] }],
    ['splat without slash', { gates: [gate('/a*')] }],
    ['placeholder', { gates: [gate('/a/:id')] }],
    ['trailing slash', { gates: [gate('/a/')] }],
    ['double slash', { gates: [gate('/a//b')] }],
    ['dot segment', { gates: [gate('/a/./b')] }],
    ['query', { gates: [gate('/a?b')] }],
    ['empty path', { gates: [gate('')] }],
    ['unknown mode', { mode: 'proxy', gates: [] }],
    ['extra key', { gates: [], extra: true }],
    ['splat login page', { gates: [], loginPage: '/login/*' }],
    ['absolute publishDir', { gates: [], publishDir: '/var/www' }],
    ['bad claim path', { gates: [], roleClaimPath: 'app_metadata..roles' }],
  ];

  it.each(samples)('zod and the JSON Schema agree on %s', (_name, sample) => {
    const validate = new Ajv2020({ strict: false }).compile(gateConfigJsonSchema());
    expect(validate(sample), JSON.stringify(validate.errors)).toBe(gateConfigSchema.safeParse(sample).success);
  });

  it('the specific messages and the schema patterns never disagree', () => {
    const paths = ['/', '/*', '/a', '/a/*', '/a/b.html', '/.env', '/a b', '/a/', '//', '/a//b', '/:x', '/a:b', '/a/..', '/..', '/.', '/a%20', '/a"', "/a'", '/a<', '/a\\b', '/a\u0001', '*', '/**', '/a/**', 'a', ''];
    for (const path of paths) {
      const zodOk = gateConfigSchema.safeParse({ gates: [gate(path)] }).success;
      expect(pathPatternProblem(path, { allowSplat: true }) === null, path).toBe(zodOk);
    }
    for (const role of ['a', 'A-b_c.d', '0', 'a b', 'a,b', '', '-a', 'é', 'a:b', 'x'.repeat(64), 'x'.repeat(65)]) {
      expect(roleNameProblem(role) === null, role).toBe(gateConfigSchema.safeParse({ gates: [gate('/a/*', [role])] }).success);
    }
  });
});
