import { describe, expect, it } from 'vitest';
import { ACCESS_COOKIE, SESSION_COOKIE, clearedCookies, fingerprintCookieName, readCookies, readRefreshToken, refreshCookie, sessionCookies } from '../../src/http/cookies.js';

const issued = {
  accessToken: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.sig',
  refreshToken: 'r'.repeat(43),
  session: { email: 'ada@example.com', roles: ['admin', 'member'], exp: 1_900_000_000 },
};
const policy = { accessTtlSeconds: 900, refreshTtlSeconds: 2_592_000 };

/** name → the attributes of one Set-Cookie value, lower-cased names. */
function attributes(setCookie: string): { name: string; value: string; attrs: Record<string, string | true> } {
  const [pair, ...rest] = setCookie.split('; ');
  const i = pair!.indexOf('=');
  const attrs: Record<string, string | true> = {};
  for (const part of rest) {
    const j = part.indexOf('=');
    if (j === -1) attrs[part.toLowerCase()] = true;
    else attrs[part.slice(0, j).toLowerCase()] = part.slice(j + 1);
  }
  return { name: pair!.slice(0, i), value: pair!.slice(i + 1), attrs };
}

function byName(setCookies: string[]) {
  return Object.fromEntries(setCookies.map((c) => {
    const parsed = attributes(c);
    return [parsed.name, parsed];
  }));
}

describe('cookies on a site without COOKIE_DOMAIN', () => {
  const cookies = byName(sessionCookies(policy, issued));

  it('sets nf_jwt HttpOnly, Secure, SameSite=Lax, Path=/, host-only, for the access token lifetime', () => {
    expect(cookies[ACCESS_COOKIE]!.value).toBe(issued.accessToken);
    expect(cookies[ACCESS_COOKIE]!.attrs).toEqual({ 'max-age': '900', path: '/', httponly: true, secure: true, samesite: 'Lax' });
  });

  it('sets the refresh cookie as __Host- (Secure, Path=/, no Domain: no sibling subdomain can plant or overwrite it)', () => {
    const refresh = cookies['__Host-rolegate_refresh']!;
    expect(refresh.value).toBe(issued.refreshToken);
    expect(refresh.attrs).toEqual({ 'max-age': '2592000', path: '/', httponly: true, secure: true, samesite: 'Lax' });
    expect(refreshCookie({ friendlyPaths: ['/auth/refresh'] })).toEqual({ name: '__Host-rolegate_refresh', paths: ['/'] });
  });

  it('sets a readable, unsigned session cookie with only email, roles and exp', () => {
    const session = cookies[SESSION_COOKIE]!;
    expect(session.attrs.httponly).toBeUndefined();
    expect(session.attrs.secure).toBe(true);
    expect(JSON.parse(decodeURIComponent(session.value))).toEqual(issued.session);
  });

  it('sets a fingerprint cookie only when fingerprinting is on', () => {
    expect(Object.keys(cookies).sort()).toEqual(['__Host-rolegate_refresh', 'nf_jwt', 'rolegate_session']);
    const withFingerprint = byName(sessionCookies(policy, { ...issued, fingerprint: 'f'.repeat(43) }));
    expect(withFingerprint['__Host-rolegate_fp']!.attrs).toMatchObject({ path: '/', httponly: true, secure: true, samesite: 'Lax' });
    expect(withFingerprint['__Host-rolegate_fp']!.attrs.domain).toBeUndefined();
    expect(fingerprintCookieName({})).toBe('__Host-rolegate_fp');
  });

  it('deletes every cookie with the attributes it was set with, and leaves no JWT-shaped junk in nf_jwt', () => {
    const cleared = byName(clearedCookies({}));
    for (const name of [ACCESS_COOKIE, SESSION_COOKIE, '__Host-rolegate_refresh', '__Host-rolegate_fp']) {
      const c = cleared[name]!;
      expect(c.value, name).toBe('');
      expect(c.attrs['max-age'], name).toBe('0');
      expect(c.attrs.expires, name).toBe('Thu, 01 Jan 1970 00:00:00 GMT');
      expect(c.attrs.path, name).toBe(cookies[name]?.attrs.path ?? '/');
      expect(c.attrs.domain, name).toBeUndefined();
      expect(c.attrs.secure, name).toBe(true);
    }
  });
});

describe('cookies for subdomain single sign-on (COOKIE_DOMAIN)', () => {
  const sso = { ...policy, domain: 'example.com' };
  const cookies = byName(sessionCookies(sso, { ...issued, fingerprint: 'f'.repeat(43) }));

  it('shares nf_jwt and the session cookie with every subdomain', () => {
    expect(cookies[ACCESS_COOKIE]!.attrs).toMatchObject({ domain: 'example.com', path: '/' });
    expect(cookies[SESSION_COOKIE]!.attrs).toMatchObject({ domain: 'example.com', path: '/' });
  });

  it('uses __Secure- for the refresh cookie (a __Host- cookie cannot have a Domain) and limits it to the functions', () => {
    expect(cookies['__Host-rolegate_refresh']).toBeUndefined();
    expect(cookies['__Secure-rolegate_refresh']!.attrs).toEqual({
      'max-age': '2592000', domain: 'example.com', path: '/.netlify/functions', httponly: true, secure: true, samesite: 'Lax',
    });
    expect(cookies['__Secure-rolegate_fp']!.attrs).toMatchObject({ domain: 'example.com', httponly: true, secure: true });
  });

  it('also sets the path-limited refresh cookie on the friendly auth paths, which browsers request by that name', () => {
    const friendly = { ...sso, friendlyPaths: ['/auth/login', '/auth/refresh', '/auth/logout', '/.netlify/functions/refresh'] };
    const refreshes = sessionCookies(friendly, issued).filter((c) => c.startsWith('__Secure-rolegate_refresh=')).map(attributes);
    expect(refreshes.map((c) => c.attrs.path)).toEqual(['/.netlify/functions', '/auth/login', '/auth/refresh', '/auth/logout']);
    for (const c of refreshes) expect(c).toMatchObject({ value: issued.refreshToken, attrs: { domain: 'example.com', httponly: true, secure: true } });
    const deletions = clearedCookies(friendly).filter((c) => c.startsWith('__Secure-rolegate_refresh=')).map(attributes);
    expect(deletions.map((c) => [c.attrs.path, c.attrs.domain, c.attrs['max-age']])).toEqual(
      refreshes.map((c) => [c.attrs.path, 'example.com', '0']));
  });

  it('deletes with the same Domain and Path, and also removes a host-only refresh cookie left from before COOKIE_DOMAIN', () => {
    const cleared = clearedCookies({ domain: 'example.com' });
    const named = byName(cleared);
    for (const [name, set] of Object.entries(cookies)) {
      expect(named[name]!.attrs.domain, name).toBe(set.attrs.domain);
      expect(named[name]!.attrs.path, name).toBe(set.attrs.path);
      expect(named[name]!.attrs['max-age'], name).toBe('0');
    }
    expect(named['__Host-rolegate_refresh']!.attrs.domain).toBeUndefined();
  });
});

describe('reading cookies', () => {
  it('reads the refresh token only under the name the current policy writes', () => {
    expect(readRefreshToken({ '__Host-rolegate_refresh': 'h' }, {})).toBe('h');
    // Without COOKIE_DOMAIN a __Secure- refresh cookie can only be a sibling subdomain's plant.
    expect(readRefreshToken({ '__Secure-rolegate_refresh': 's' }, {})).toBeUndefined();
    expect(readRefreshToken({ '__Host-rolegate_refresh': 'h' }, { domain: 'example.com' })).toBeUndefined();
    expect(readRefreshToken({ '__Host-rolegate_refresh': 'h', '__Secure-rolegate_refresh': 's' }, { domain: 'example.com' })).toBe('s');
    expect(readRefreshToken({ '__Host-rolegate_refresh': 'h', '__Secure-rolegate_refresh': 's' }, {})).toBe('h');
    expect(readRefreshToken({}, {})).toBeUndefined();
  });

  it('takes the first of two cookies with one name (the browser sends the most specific path first)', () => {
    expect(readCookies('nf_jwt=first; nf_jwt=second')).toEqual({ nf_jwt: 'first' });
  });

  it('never throws on a hostile Cookie header', () => {
    for (const header of ['', ';', '=', 'a', 'a=%', 'a="b', `a=${'x'.repeat(100_000)}`, 'a=%E0%A4%A']) {
      expect(() => readCookies(header), header.slice(0, 20)).not.toThrow();
    }
    expect(readCookies(undefined)).toEqual({});
  });
});
