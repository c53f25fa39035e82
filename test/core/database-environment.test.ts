import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig, readDatabaseConfig } from '../../src/core/environment.js';

const SECRET = 'x'.repeat(40);
const SUPABASE_KEY = 'eyJhbGciOiJIUzI1NiJ9.service-role-key-for-tests';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('choosing the database from the environment', () => {
  it('uses the embedded database in .rolegate/data when nothing is configured', () => {
    expect(readDatabaseConfig({})).toEqual({ kind: 'embedded', dataDir: '.rolegate/data' });
    expect(readDatabaseConfig({ ROLEGATE_DATA_DIR: '/var/lib/x' })).toEqual({ kind: 'embedded', dataDir: '/var/lib/x' });
  });

  it('uses DATABASE_URL, then the NETLIFY_DB_URL that Netlify hands to functions', () => {
    const a = readDatabaseConfig({ DATABASE_URL: 'postgres://u@db.example/app', NETLIFY_DB_URL: 'postgres://u@netlify/db' });
    expect(a.kind === 'postgres' && [a.source, a.connectionString.reveal()]).toEqual(['DATABASE_URL', 'postgres://u@db.example/app']);
    const b = readDatabaseConfig({ NETLIFY_DB_URL: 'postgresql://u@netlify/db' });
    expect(b.kind === 'postgres' && b.source).toBe('NETLIFY_DB_URL');
  });

  it('keeps an explicit ROLEGATE_DATA_DIR over the ambient NETLIFY_DB_URL (netlify dev sets it for every site)', () => {
    expect(readDatabaseConfig({ ROLEGATE_DATA_DIR: '.rolegate/data', NETLIFY_DB_URL: 'postgres://u@h/db' }).kind).toBe('embedded');
  });

  it('uses Supabase when both its URL and service role key are set', () => {
    const c = readDatabaseConfig({ SUPABASE_URL: 'https://abc.supabase.co', SUPABASE_SERVICE_ROLE_KEY: SUPABASE_KEY });
    expect(c.kind).toBe('supabase');
  });

  it('names the missing half of the Supabase pair', () => {
    expect(problemsOf(() => readDatabaseConfig({ SUPABASE_URL: 'https://abc.supabase.co' }))).toEqual([
      'SUPABASE_SERVICE_ROLE_KEY is required when SUPABASE_URL is set',
    ]);
    expect(problemsOf(() => readDatabaseConfig({ SUPABASE_SERVICE_ROLE_KEY: SUPABASE_KEY }))).toEqual([
      'SUPABASE_URL is required when SUPABASE_SERVICE_ROLE_KEY is set',
    ]);
  });

  it('refuses two explicit database choices', () => {
    const problems = problemsOf(() => readDatabaseConfig({ DATABASE_URL: 'postgres://h/db', ROLEGATE_DATA_DIR: 'x' }));
    expect(problems[0]).toMatch(/DATABASE_URL and ROLEGATE_DATA_DIR .*choose one/);
  });

  it('refuses a connection string that is not PostgreSQL without echoing it', () => {
    const problems = problemsOf(() => readDatabaseConfig({ DATABASE_URL: 'mysql://root:hunter2@db/app' }));
    expect(problems).toEqual(['DATABASE_URL must be a postgres:// or postgresql:// connection string']);
    expect(problems.join()).not.toContain('hunter2');
  });
});

describe('reading the whole configuration', () => {
  it('applies documented defaults', () => {
    const { auth } = readConfig({ JWT_SECRET: SECRET });
    expect(auth).toMatchObject({
      accessTokenTtlSeconds: 900,
      refreshTokenTtlSeconds: 2_592_000,
      refreshGraceSeconds: 10,
      loginMaxFailuresPerAccount: 5,
      loginMaxFailuresPerIp: 50,
      loginThrottleWindowSeconds: 900,
      bcryptCost: 11,
      jwtIssuer: 'rolegate',
    });
    expect(auth.siteUrl.origin).toBe('http://localhost:8888');
  });

  it('falls back to the URL variable Netlify sets when SITE_URL is absent', () => {
    expect(readConfig({ JWT_SECRET: SECRET, URL: 'https://docs.example.com' }).auth.siteUrl.host).toBe('docs.example.com');
  });

  it('lists every bad variable at once, by name, and never their values', () => {
    const short = 'tooshort-secret-value';
    const problems = problemsOf(() => readConfig({ JWT_SECRET: short, ACCESS_TOKEN_TTL_SECONDS: 'soon', BCRYPT_COST: '4', DATABASE_URL: 'ftp://x' }));
    expect(problems).toHaveLength(4);
    expect(problems.some((p) => p.startsWith('JWT_SECRET must be at least 32 bytes'))).toBe(true);
    expect(problems.some((p) => p.startsWith('ACCESS_TOKEN_TTL_SECONDS must be a whole number'))).toBe(true);
    expect(problems.some((p) => p.startsWith('BCRYPT_COST must be at least 10'))).toBe(true);
    expect(problems.some((p) => p.startsWith('DATABASE_URL'))).toBe(true);
    expect(problems.join('\n')).not.toContain(short);
  });

  it('requires JWT_SECRET', () => {
    expect(problemsOf(() => readConfig({}))).toEqual(['JWT_SECRET is required']);
  });

  it('keeps secrets out of logs and JSON', () => {
    const config = readConfig({ JWT_SECRET: SECRET });
    expect(JSON.stringify(config)).not.toContain(SECRET);
    expect(String(config.auth.jwtSecret)).toBe('[redacted]');
    expect(config.auth.jwtSecret.reveal()).toBe(SECRET);
  });

  it('refuses a cookie domain that is a public suffix or does not cover the site', () => {
    expect(problemsOf(() => readConfig({ JWT_SECRET: SECRET, SITE_URL: 'https://a.netlify.app', COOKIE_DOMAIN: 'netlify.app' }))[0])
      .toMatch(/^COOKIE_DOMAIN "netlify.app" is a public suffix/);
    expect(problemsOf(() => readConfig({ JWT_SECRET: SECRET, SITE_URL: 'https://docs.example.com', COOKIE_DOMAIN: 'other.com' }))[0])
      .toMatch(/^COOKIE_DOMAIN "other.com" does not cover the site's host "docs.example.com"/);
    expect(readConfig({ JWT_SECRET: SECRET, SITE_URL: 'https://docs.example.com', COOKIE_DOMAIN: '.Example.com' }).auth.cookieDomain).toBe('example.com');
  });
});
