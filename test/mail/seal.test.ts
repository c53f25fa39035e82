import { describe, expect, it } from 'vitest';
import { Secret } from '../../src/core/secret.js';
import { openMailSecret, sealMailSecret } from '../../src/mail/seal.js';

const current = new Secret('c'.repeat(40));
const previous = new Secret('p'.repeat(40));

describe('sealed mail secrets in the outbox', () => {
  it('opens what it sealed, and no two seals of one link look alike', () => {
    const link = 'https://site.example/auth/verify?token=abc';
    const a = sealMailSecret(current, link);
    const b = sealMailSecret(current, link);
    expect(a).not.toBe(b);
    expect(a).not.toContain('abc');
    expect(openMailSecret([current], a)).toBe(link);
  });

  it('opens a mail sealed before a JWT_SECRET rotation with the previous secret', () => {
    expect(openMailSecret([current, previous], sealMailSecret(previous, 'x'))).toBe('x');
    expect(openMailSecret([current], sealMailSecret(previous, 'x'))).toBeNull();
  });

  it('refuses a tampered or malformed seal instead of opening it', () => {
    const sealed = sealMailSecret(current, 'https://site.example/auth/verify?token=abc');
    const parts = sealed.split('.');
    const body = Buffer.from(parts[2]!, 'base64url');
    body[0] = body[0]! ^ 1;
    expect(openMailSecret([current], [parts[0], parts[1], body.toString('base64url'), parts[3]].join('.'))).toBeNull();
    for (const bad of ['', 'v1', 'v2.a.b.c', 'v1.a.b.c', `${sealed}.x`]) expect(openMailSecret([current], bad)).toBeNull();
  });
});
