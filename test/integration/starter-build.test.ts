/**
 * The starter deploys the way an adopting site does: `netlify build --offline` on a copy of
 * this checkout loads rolegate's build plugin (here `package = "."`, the checkout being the
 * package), which checks the environment and then generates the gates and the functions.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copySite } from '../support/netlify-dev.js';

const ROOT = join(import.meta.dirname, '..', '..');
const DEPLOY_ENV = { JWT_SECRET: 'a-deploy-secret-that-is-long-enough-0123456789', DATABASE_URL: 'postgres://site:pw@127.0.0.1:1/site', SITE_URL: 'https://starter.example',
  GITHUB_CLIENT_ID: 'starter-github-client', GITHUB_CLIENT_SECRET: 'starter-github-secret', SSO_CLIENT_ID: 'starter-sso-client', SSO_CLIENT_SECRET: 'starter-sso-secret' };

function netlifyBuild(root: string, env: Record<string, string>) {
  const result = spawnSync(join(ROOT, 'node_modules', '.bin', 'netlify'), ['build', '--offline'], {
    cwd: root, encoding: 'utf8', timeout: 180_000,
    env: { ...process.env, CI: 'true', JWT_SECRET: '', DATABASE_URL: '', SUPABASE_URL: '', SITE_URL: '', URL: '', ROLEGATE_DATA_DIR: '', GITHUB_CLIENT_ID: '', GITHUB_CLIENT_SECRET: '', SSO_CLIENT_ID: '', SSO_CLIENT_SECRET: '', ...env },
  });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('the starter through netlify build --offline', () => {
  let site: ReturnType<typeof copySite>;

  beforeAll(() => {
    site = copySite({ edgeFunctions: false });
  });

  afterAll(() => site?.remove());

  it('fails the build with the variables to set when the environment cannot deploy, writing no functions', () => {
    const build = netlifyBuild(site.root, { ROLEGATE_DATA_DIR: '.rolegate/data' });
    expect(build.code).not.toBe(0);
    expect(build.output).toContain('rolegate cannot deploy this site as configured');
    expect(build.output).toContain('JWT_SECRET is required');
    expect(build.output).toContain('the embedded database is for local development only');
    expect(build.output).toContain('GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET are required for sign-in with GitHub');
    expect(existsSync(join(site.root, '.netlify', 'functions', 'login.zip'))).toBe(false);
  }, 200_000);

  it('builds with the plugin: the gates, the edge gate and every generated function bundled', () => {
    const build = netlifyBuild(site.root, DEPLOY_ENV);
    expect(build.code, build.output).toBe(0);
    expect(build.output).toContain('wrote .netlify/v1/functions/: the functions login, logout, refresh, recover, verify, signup, invite, account, magic-link, mail-background, mail-scheduled, identity-login');
    expect(build.output).toMatch(/wrote \.netlify\/v1\/functions\/: the functions [^\n]*\bprovider\b/);
    for (const fn of ['login', 'logout', 'provider', 'refresh', 'recover', 'verify', 'mail-background', 'mail-scheduled', 'identity-signup', 'identity-webhook', 'identity-sync-background', 'whoami']) {
      expect(existsSync(join(site.root, '.netlify', 'functions', `${fn}.zip`)), fn).toBe(true);
    }
    expect(existsSync(join(site.root, 'netlify', 'edge-functions', 'rolegate-gate', 'rolegate-gate.js'))).toBe(true);
  }, 200_000);
});
