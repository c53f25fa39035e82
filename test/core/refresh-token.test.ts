import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { looksLikeRefreshToken, newRefreshToken, refreshTokenHash, successorRefreshToken } from '../../src/core/refresh-token.js';
import { Secret } from '../../src/core/secret.js';

const secret = new Secret('refresh-token-test-secret-0123456789abcdef');

describe('refresh tokens', () => {
  it('are 32 random bytes in base64url, never repeating', () => {
    const tokens = new Set(Array.from({ length: 1000 }, () => newRefreshToken()));
    expect(tokens.size).toBe(1000);
    for (const token of tokens) {
      expect(Buffer.from(token, 'base64url')).toHaveLength(32);
      expect(looksLikeRefreshToken(token)).toBe(true);
    }
  });

  it('are stored only as their SHA-256, in hex', () => {
    const token = newRefreshToken();
    expect(refreshTokenHash(token)).toBe(createHash('sha256').update(token).digest('hex'));
    expect(refreshTokenHash(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(refreshTokenHash(token)).not.toContain(token);
  });

  it('have one successor, the same for every tab that presents the same token', () => {
    const token = newRefreshToken();
    const a = successorRefreshToken(token, secret);
    expect(successorRefreshToken(token, secret)).toBe(a);
    expect(successorRefreshToken(token, new Secret(secret.reveal()))).toBe(a);
    expect(looksLikeRefreshToken(a)).toBe(true);
    expect(a).not.toBe(token);
    // The chain keeps moving: the successor's successor is new again.
    expect(successorRefreshToken(a, secret)).not.toBe(a);
  });

  it('have successors that nobody without JWT_SECRET can compute', () => {
    const token = newRefreshToken();
    const other = new Secret('another-secret-entirely-0123456789abcdefgh');
    expect(successorRefreshToken(token, other)).not.toBe(successorRefreshToken(token, secret));
    // Not a bare hash of the token, and not keyed directly by the secret: the key is derived with a label.
    expect(successorRefreshToken(token, secret)).not.toBe(createHash('sha256').update(token).digest('base64url'));
    expect(successorRefreshToken(newRefreshToken(), secret)).not.toBe(successorRefreshToken(token, secret));
  });

  it('recognises only the exact shape rolegate makes, so junk never reaches the database', () => {
    for (const junk of ['', 'x', 'a'.repeat(42), 'a'.repeat(44), `${'a'.repeat(42)}=`, `${'a'.repeat(42)}+`, `${'a'.repeat(42)}/`, `${'a'.repeat(42)}\n`, 'eyJhbGciOiJub25lIn0.e30.']) {
      expect(looksLikeRefreshToken(junk), JSON.stringify(junk)).toBe(false);
    }
  });
});
