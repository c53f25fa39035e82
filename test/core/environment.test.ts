import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig, type Env } from '../../src/core/environment.js';

const base: Env = { JWT_SECRET: 'x'.repeat(40), SITE_URL: 'https://site.example', ROLEGATE_DATA_DIR: 'memory://' };

function problemsOf(env: Env): string[] {
  try {
    readConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('auth configuration for login, refresh and logout', () => {
  it('has documented defaults: 15 min access, 30 days refresh, 10 s grace, 5 per account / 50 per address in 15 min', () => {
    const { auth } = readConfig(base);
    expect(auth).toMatchObject({
      accessTokenTtlSeconds: 900,
      refreshTokenTtlSeconds: 2_592_000,
      refreshGraceSeconds: 10,
      loginMaxFailuresPerAccount: 5,
      loginMaxFailuresPerIp: 50,
      loginThrottleWindowSeconds: 900,
      jwtIssuer: 'rolegate',
      tokenFingerprint: false,
      allowedOrigins: ['https://site.example'],
    });
    expect(auth.cookieDomain).toBeUndefined();
  });

  it('accepts POSTs from the site origin plus ALLOWED_ORIGINS, normalised to origins', () => {
    const { auth } = readConfig({ ...base, ALLOWED_ORIGINS: 'https://app.example.com, https://ADMIN.example.com/ ,https://site.example' });
    expect(auth.allowedOrigins).toEqual(['https://site.example', 'https://app.example.com', 'https://admin.example.com']);
  });

  it('refuses an ALLOWED_ORIGINS entry that is a URL with a path, or not a URL, naming the variable only', () => {
    for (const value of ['https://app.example.com/login', 'app.example.com', '*', 'https://secret-token@app.example.com']) {
      const problems = problemsOf({ ...base, ALLOWED_ORIGINS: value });
      expect(problems.join('\n'), value).toMatch(/^ALLOWED_ORIGINS /);
      expect(problems.join('\n')).not.toContain('secret-token');
    }
  });

  it('switches token fingerprinting on only with TOKEN_FINGERPRINT=on', () => {
    expect(readConfig({ ...base, TOKEN_FINGERPRINT: 'on' }).auth.tokenFingerprint).toBe(true);
    expect(readConfig({ ...base, TOKEN_FINGERPRINT: 'off' }).auth.tokenFingerprint).toBe(false);
    expect(problemsOf({ ...base, TOKEN_FINGERPRINT: 'yes' }).join()).toMatch(/TOKEN_FINGERPRINT/);
  });

  it('allows a zero grace interval (tests, strict sites) but bounds every lifetime', () => {
    expect(readConfig({ ...base, REFRESH_GRACE_SECONDS: '0' }).auth.refreshGraceSeconds).toBe(0);
    expect(problemsOf({ ...base, REFRESH_GRACE_SECONDS: '3600' }).join()).toMatch(/REFRESH_GRACE_SECONDS must be at most 300/);
    expect(problemsOf({ ...base, ACCESS_TOKEN_TTL_SECONDS: '1' }).join()).toMatch(/ACCESS_TOKEN_TTL_SECONDS must be at least 5/);
    expect(problemsOf({ ...base, LOGIN_MAX_FAILURES_PER_ACCOUNT: '0' }).join()).toMatch(/LOGIN_MAX_FAILURES_PER_ACCOUNT/);
    expect(problemsOf({ ...base, BCRYPT_COST: '4' }).join()).toMatch(/BCRYPT_COST must be at least 10/);
  });

  it('keeps JWT_SECRET_PREVIOUS for verification and refuses a short one without echoing it', () => {
    expect(readConfig({ ...base, JWT_SECRET_PREVIOUS: 'p'.repeat(32) }).auth.jwtSecretPrevious?.reveal()).toBe('p'.repeat(32));
    const problems = problemsOf({ ...base, JWT_SECRET_PREVIOUS: 'short-old-secret' });
    expect(problems.join()).toMatch(/JWT_SECRET_PREVIOUS must be at least 32 bytes/);
    expect(problems.join()).not.toContain('short-old-secret');
  });

  it('stores COOKIE_DOMAIN without a leading dot, lower-cased', () => {
    expect(readConfig({ ...base, SITE_URL: 'https://docs.example.com', COOKIE_DOMAIN: '.Example.com' }).auth.cookieDomain).toBe('example.com');
    expect(problemsOf({ ...base, COOKIE_DOMAIN: 'netlify.app', SITE_URL: 'https://x.netlify.app' }).join()).toMatch(/COOKIE_DOMAIN .*public suffix/);
  });

  it('sends login passwords to IDENTITY_URL only over https, or plain http to this machine (a loopback stand-in)', () => {
    for (const value of ['https://site.example/.netlify/identity', 'http://127.0.0.1:9999/.netlify/identity', 'http://localhost:8888/.netlify/identity', 'http://[::1]:9999']) {
      expect(readConfig({ ...base, IDENTITY_URL: value }).auth.identityUrl, value).toBe(value);
    }
    for (const value of ['http://site.example/.netlify/identity', 'http://10.0.0.5/.netlify/identity', 'http://localhost.evil.example', 'ftp://site.example', 'site.example/.netlify/identity', 'http://user:secret-pass@site.example']) {
      const problems = problemsOf({ ...base, IDENTITY_URL: value });
      expect(problems, value).toEqual([expect.stringMatching(/^IDENTITY_URL must be an absolute https URL/)]);
      expect(problems.join()).not.toContain('secret-pass');
    }
  });
});

describe('mail configuration', () => {
  it('defaults to no SMTP server, no-reply at the site host, 3 mails per address and 30 per client address an hour', () => {
    expect(readConfig(base).mail).toEqual({ from: 'no-reply@site.example', maxPerAddress: 3, maxPerIp: 30, throttleWindowSeconds: 3600 });
  });

  it('takes a bare MAIL_FROM or one with a display name', () => {
    expect(readConfig({ ...base, MAIL_FROM: 'hello@site.example' }).mail.from).toBe('hello@site.example');
    expect(readConfig({ ...base, MAIL_FROM: 'Site Team <hello@site.example>' }).mail.from).toBe('Site Team <hello@site.example>');
  });

  it('refuses a MAIL_FROM that is no address or would start another header', () => {
    for (const from of ['nobody', 'a@b.example\r\nBcc: x@y.example', 'Site <nobody>']) {
      expect(problemsOf({ ...base, MAIL_FROM: from })).toEqual([expect.stringMatching(/^MAIL_FROM must be an address/)]);
    }
  });

  it('keeps SMTP_URL secret and refuses anything but smtp:// or smtps:// without echoing it', () => {
    const url = 'smtps://user:hunter2hunter2@smtp.example:465';
    const { mail } = readConfig({ ...base, SMTP_URL: url });
    expect(mail.smtpUrl?.reveal()).toBe(url);
    expect(JSON.stringify(mail)).not.toContain('hunter2');
    const problems = problemsOf({ ...base, SMTP_URL: 'https://user:hunter2hunter2@smtp.example' });
    expect(problems).toEqual([expect.stringMatching(/^SMTP_URL must be an smtp/)]);
    expect(problems.join()).not.toContain('hunter2');
  });
});
