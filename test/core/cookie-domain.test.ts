import { describe, expect, it } from 'vitest';
import { checkCookieDomain } from '../../src/core/cookie-domain.js';

describe('COOKIE_DOMAIN for subdomain single sign-on', () => {
  it.each([
    ['example.com', 'example.com'],
    ['example.com', 'docs.example.com'],
    ['.example.com', 'a.b.example.com'],
    ['Example.COM', 'app.example.com'],
    ['shop.example.co.uk', 'www.shop.example.co.uk'],
  ])('accepts %s for a site on %s', (domain, host) => {
    expect(checkCookieDomain(domain, host)).toBeUndefined();
  });

  it.each(['netlify.app', 'github.io', 'pages.dev', 'co.uk', 'com.au', 'com', 'localhost'])('refuses the public suffix %s', (domain) => {
    expect(checkCookieDomain(domain, `site.${domain}`)).toMatch(/public suffix/);
  });

  it('refuses a domain that does not cover the site, including look-alike suffixes', () => {
    expect(checkCookieDomain('example.com', 'example.org')).toMatch(/does not cover/);
    expect(checkCookieDomain('example.com', 'badexample.com')).toMatch(/does not cover/);
    expect(checkCookieDomain('docs.example.com', 'example.com')).toMatch(/does not cover/);
  });

  it('refuses things that are not domain names', () => {
    for (const domain of ['exa mple.com', 'example.com/', 'https://example.com', 'example..com', '-x.example.com', 'example.com:443', '']) {
      expect(checkCookieDomain(domain, 'example.com'), domain).toMatch(/not a valid domain/);
    }
  });
});
