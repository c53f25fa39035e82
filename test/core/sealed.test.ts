import { describe, expect, it } from 'vitest';
import { seal, unseal } from '../../src/core/sealed.js';
import { Secret } from '../../src/core/secret.js';

const secret = new Secret('s'.repeat(40));

describe('sealed values', () => {
  it('open only as seal() spelled them: no other spelling that Node\'s lenient base64url decodes to the same bytes', () => {
    // Seal until a part ends on a character with unused low bits and holds a "-" or "_", so every respelling below applies.
    let sealed = '';
    let part = '';
    for (let i = 0; i < 500 && !(/[-_]/u.test(part) && part.length % 4 !== 0); i += 1) {
      sealed = seal(secret, 'test', `plain text ${i}`);
      part = sealed.split('.')[2]!;
    }
    expect(unseal([secret], 'test', sealed)).toMatch(/^plain text/);
    const [version, iv, body, tag] = sealed.split('.') as [string, string, string, string];
    const last = body.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // The same bytes with a low bit the decoder ignores set (the last character of a part of 3n+1 or 3n+2 bytes).
    const lowBit = alphabet[alphabet.indexOf(last) ^ 1]!;
    const respelled = [
      body.replace('-', '+').replace('_', '/'),
      `${body}=`,
      `${body.slice(0, 2)}!${body.slice(2)}`,
      `${body.slice(0, -1)}${lowBit}`,
    ];
    for (const other of respelled) {
      expect(Buffer.from(other, 'base64url').equals(Buffer.from(body, 'base64url')) || other.endsWith(lowBit)).toBe(true);
      expect(unseal([secret], 'test', [version, iv, other, tag].join('.')), other).toBeNull();
    }
    expect(unseal([secret], 'test', [version, iv, body, `${tag}=`].join('.'))).toBeNull();
  });
});
