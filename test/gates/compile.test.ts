import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllRedirects } from '@netlify/redirect-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileGates, gateTableFromConfig } from '../../src/gates/compile.js';
import { parseGateConfig } from '../../src/gates/config.js';
import { BEGIN_MARKER, END_MARKER } from '../../src/gates/redirects-file.js';
import { explainPath, requiredRolesFor } from '../../src/gates/table.js';
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

  it('writes auth rewrites, then each gate most specific first: exceptions, Role rule, forced bounce', () => {
    expect(compiled.rules.filter((line) => !line.startsWith('#'))).toEqual([
      '/auth/login /.netlify/functions/login 200',
      '/auth/refresh /.netlify/functions/refresh 200',
      '/auth/logout /.netlify/functions/logout 200',
      '/reports/annual.html /reports/annual.html 200! Role=finance',
      '/reports/annual.html /.netlify/functions/refresh/reports/annual.html 302!',
      '/staff/admin/* /staff/admin/:splat 200! Role=admin',
      '/staff/admin/* /.netlify/functions/refresh/staff/admin/:splat 302!',
      '/admin/login.html /admin/login.html 200',
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
    expect(summary).toEqual([
      { from: '/auth/login', to: '/.netlify/functions/login', status: 200, force: false, Role: undefined },
      { from: '/auth/refresh', to: '/.netlify/functions/refresh', status: 200, force: false, Role: undefined },
      { from: '/auth/logout', to: '/.netlify/functions/logout', status: 200, force: false, Role: undefined },
      { from: '/reports/annual.html', to: '/reports/annual.html', status: 200, force: true, Role: ['finance'] },
      { from: '/reports/annual.html', to: '/.netlify/functions/refresh/reports/annual.html', status: 302, force: true, Role: undefined },
      { from: '/staff/admin/*', to: '/staff/admin/:splat', status: 200, force: true, Role: ['admin'] },
      { from: '/staff/admin/*', to: '/.netlify/functions/refresh/staff/admin/:splat', status: 302, force: true, Role: undefined },
      { from: '/admin/login.html', to: '/admin/login.html', status: 200, force: false, Role: undefined },
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
      parseGateConfig({ gates: [{ path: '/*', roles: ['team'], public: ['/login', '/403', '/assets/*'] }] }),
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
