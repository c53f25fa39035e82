/** The build plugin's check of the deploy's environment: one message naming every variable to set, never a value. */
import { describe, expect, it } from 'vitest';
import { deployEnvironmentProblem } from '../../src/plugin/deploy-environment.js';
import { providerSettings, providersConfigSchema } from '../../src/site-config/providers.js';

const GOOD = { JWT_SECRET: 'a-deploy-secret-that-is-long-enough-0123456789', DATABASE_URL: 'postgres://u:secret-password@db.example/site', URL: 'https://site.example' };

describe('deployEnvironmentProblem', () => {
  it('names every problem at once, the local database among them', () => {
    const problem = deployEnvironmentProblem({ ROLEGATE_DATA_DIR: '.rolegate/data' });
    expect(problem).toContain('JWT_SECRET is required');
    expect(problem).toContain('the embedded database is for local development only');
    expect(problem).toContain('SITE_URL is required');
  });

  it('passes an environment fit to deploy, on PostgreSQL or Supabase', () => {
    expect(deployEnvironmentProblem(GOOD)).toBeNull();
    expect(deployEnvironmentProblem({ JWT_SECRET: GOOD.JWT_SECRET, SUPABASE_URL: 'https://x.supabase.co', SUPABASE_SERVICE_ROLE_KEY: 'sb_secret_0123456789abcdefghij', SITE_URL: 'https://site.example' })).toBeNull();
  });

  it.each([
    ['no JWT_SECRET', { ...GOOD, JWT_SECRET: undefined }, /JWT_SECRET is required/],
    ['a short JWT_SECRET', { ...GOOD, JWT_SECRET: 'short' }, /JWT_SECRET must be at least 32 bytes/],
    ['no database (the embedded one is local only)', { ...GOOD, DATABASE_URL: undefined }, /no database is set: set DATABASE_URL/],
    ['an embedded data directory', { ...GOOD, DATABASE_URL: undefined, ROLEGATE_DATA_DIR: '.rolegate/data' }, /embedded database is for local development only/],
    ['two databases', { ...GOOD, SUPABASE_URL: 'https://x.supabase.co', SUPABASE_SERVICE_ROLE_KEY: 'sb_secret_0123456789abcdefghij' }, /choose one database/],
    ['no site URL', { ...GOOD, URL: undefined }, /SITE_URL is required/],
  ])('refuses %s, saying where to set it', (_what, env, message) => {
    const problem = deployEnvironmentProblem(env);
    expect(problem).toMatch(message);
    expect(problem).toContain('Site configuration → Environment variables');
    expect(problem).not.toContain('secret-password');
    expect(problem).not.toContain(GOOD.JWT_SECRET);
  });

  it('names the unset client variables of each configured sign-in provider', () => {
    const providers = providerSettings(providersConfigSchema.parse([{ type: 'github' }, { type: 'oidc', id: 'sso', name: 'Staff SSO', issuer: 'https://sso.example' }]));
    const problem = deployEnvironmentProblem({ ...GOOD, SSO_CLIENT_ID: 'client', SSO_CLIENT_SECRET: ' ' }, providers);
    expect(problem).toContain('GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET are required for sign-in with GitHub (provider "github"');
    expect(problem).toContain('SSO_CLIENT_SECRET is required for sign-in with Staff SSO');
    expect(problem).not.toContain('SSO_CLIENT_ID');
    expect(deployEnvironmentProblem({ ...GOOD, GITHUB_CLIENT_ID: 'a', GITHUB_CLIENT_SECRET: 'b', SSO_CLIENT_ID: 'c', SSO_CLIENT_SECRET: 'd' }, providers)).toBeNull();
  });
});
