import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cookiePolicy } from '../../src/auth/deps.js';
import { buildFunctions, functionNames, GENERATED_FUNCTIONS_DIR } from '../../src/gates/functions-build.js';
import { compileSiteConfig } from '../../src/site-config/compile.js';
import { authConfig } from '../auth/support.js';

let site: string;
beforeAll(async () => {
  site = await mkdtemp(join(tmpdir(), 'rolegate-functions-'));
});
afterAll(() => rm(site, { recursive: true, force: true }));

describe('the identity-api function', () => {
  const gates = [{ path: '/admin/*', roles: ['admin'] }];

  it('is generated only while identityApi.enabled is true, and removed when it is turned off', async () => {
    expect(functionNames({ gates })).not.toContain('identity-api');
    expect(functionNames({ gates, identityApi: { enabled: false } })).not.toContain('identity-api');
    const on = { gates, identityApi: { enabled: true } };
    expect(functionNames(on)).toContain('identity-api');
    const file = join(site, GENERATED_FUNCTIONS_DIR, 'identity-api.mjs');
    await buildFunctions({ siteRoot: site, rawConfig: on, functionsDir: 'netlify/functions' });
    expect(await readFile(file, 'utf8')).toContain("from 'rolegate/functions/identity-api'");
    const off = await buildFunctions({ siteRoot: site, rawConfig: { gates }, functionsDir: 'netlify/functions' });
    expect(off.removed).toContain(join(GENERATED_FUNCTIONS_DIR, 'identity-api.mjs'));
    expect(existsSync(file)).toBe(false);
  });

  it('never gets the refresh cookie: its clients send bearer tokens', () => {
    const compiled = compileSiteConfig({ gates, identityApi: { enabled: true } });
    const policy = cookiePolicy({ config: authConfig({ COOKIE_DOMAIN: 'example.com', SITE_URL: 'https://app.example.com' }), gates: compiled.table, accounts: compiled.accounts });
    expect(policy.friendlyPaths).toEqual(['/auth/login', '/auth/refresh', '/auth/logout']);
  });
});

describe('the admin function', () => {
  const gates = [{ path: '/admin/*', roles: ['admin'] }];

  it('is generated only while admin.enabled is true, and removed when it is turned off; the refresh cookie is never sent to it', async () => {
    expect(functionNames({ gates })).not.toContain('admin');
    const on = { gates, admin: { enabled: true } };
    expect(functionNames(on)).toContain('admin');
    const file = join(site, GENERATED_FUNCTIONS_DIR, 'admin.mjs');
    await buildFunctions({ siteRoot: site, rawConfig: on, functionsDir: 'netlify/functions' });
    expect(await readFile(file, 'utf8')).toContain("from 'rolegate/functions/admin'");
    const off = await buildFunctions({ siteRoot: site, rawConfig: { gates }, functionsDir: 'netlify/functions' });
    expect(off.removed).toContain(join(GENERATED_FUNCTIONS_DIR, 'admin.mjs'));
    expect(existsSync(file)).toBe(false);
    const compiled = compileSiteConfig(on);
    const policy = cookiePolicy({ config: authConfig({ SITE_URL: 'https://site.example' }), gates: compiled.table, accounts: compiled.accounts });
    expect(policy.friendlyPaths).toEqual(['/auth/login', '/auth/refresh', '/auth/logout']);
  });
});

describe('the provider function', () => {
  const gates = [{ path: '/admin/*', roles: ['admin'] }];

  it('is generated only while providers are listed, and never gets the refresh cookie (a provider sign-in starts a new session)', async () => {
    expect(functionNames({ gates })).not.toContain('provider');
    expect(functionNames({ gates, providers: [] })).not.toContain('provider');
    const on = { gates, providers: [{ type: 'github' }] };
    expect(functionNames(on)).toContain('provider');
    await buildFunctions({ siteRoot: site, rawConfig: on, functionsDir: 'netlify/functions' });
    expect(await readFile(join(site, GENERATED_FUNCTIONS_DIR, 'provider.mjs'), 'utf8')).toContain("from 'rolegate/functions/provider'");
    const compiled = compileSiteConfig(on);
    const policy = cookiePolicy({ config: authConfig({ COOKIE_DOMAIN: 'example.com', SITE_URL: 'https://app.example.com' }), gates: compiled.table, accounts: compiled.accounts });
    expect(policy.friendlyPaths).toEqual(['/auth/login', '/auth/refresh', '/auth/logout']);
  });
});
