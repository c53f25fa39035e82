import { describe, expect, it } from 'vitest';
import { isSafeNextPath, safeNextPath } from '../../src/core/next-path.js';

describe('redirect targets after sign-in', () => {
  it.each(['/', '/admin/', '/admin/report?year=2024&tab=2', '/members/a%20b', '/x#section'])('keeps the same-site path %s', (path) => {
    expect(isSafeNextPath(path)).toBe(true);
    expect(safeNextPath(path)).toBe(path);
  });

  it.each([
    '//evil.example', '/\\evil.example', '\\\\evil.example', 'https://evil.example/', 'http:/evil.example', 'javascript:alert(1)',
    'data:text/html,x', '/%2F%2Fevil.example', '/%5Cevil.example', '/%2f%5cevil.example', ' /admin', '/\t/evil.example',
    '/\n/evil.example', 'evil.example', '', '/%E0%A4%A', `/${'a'.repeat(3000)}`,
  ])('refuses %j and falls back to /', (path) => {
    expect(isSafeNextPath(path)).toBe(false);
    expect(safeNextPath(path)).toBe('/');
  });

  it('refuses things that are not strings', () => {
    for (const value of [undefined, null, 42, ['/x'], { path: '/x' }]) expect(isSafeNextPath(value)).toBe(false);
  });
});

describe('redirect targets as Location headers', () => {
  it.each([
    ['/\u3000x', '/%E3%80%80x'],
    ['/ドキュメント?q=é#ç', `/${encodeURIComponent('ドキュメント')}?q=%C3%A9#%C3%A7`],
    ['/caf\u00e9', '/caf%C3%A9'],
    ['/already%E3%80%80encoded', '/already%E3%80%80encoded'],
  ])('keeps the same-site path %j, percent-encoded to ASCII', (path, location) => {
    expect(isSafeNextPath(path)).toBe(true);
    expect(safeNextPath(path)).toBe(location);
    expect(safeNextPath(safeNextPath(path))).toBe(location);
  });

  it.each(['/\ud800x', '/x\udfff', '/\u0000x'])('refuses %j, which no URL can carry', (path) => {
    expect(safeNextPath(path)).toBe('/');
  });
});
