import { describe, expect, it } from 'vitest';
import { isWellFormedJwt, withoutMalformedAccessToken } from '../../src/dev/access-cookie-filter.js';

const segment = (json: string) => Buffer.from(json).toString('base64url');
const HEADER = segment('{"alg":"HS256","typ":"JWT"}');
const GOOD = `${HEADER}.${segment('{"exp":1}')}.c2ln`;

describe('the nf_jwt filter of the local front server', () => {
  it('passes a token whose header and payload are JSON objects, whatever its signature', () => {
    expect(isWellFormedJwt(GOOD)).toBe(true);
    expect(isWellFormedJwt(`${segment('{"alg":"none","typ":"JWT"}')}.${segment('{}')}.`)).toBe(true);
  });

  it('refuses every shape that ended netlify dev, and every one it cannot decode', () => {
    for (const payload of ['[1,2,3]', '42', '"admin"', 'true', 'null', '{foo']) expect(isWellFormedJwt(`${HEADER}.${segment(payload)}.c2ln`), payload).toBe(false);
    for (const header of ['[1]', '7', 'null']) expect(isWellFormedJwt(`${segment(header)}.${segment('{}')}.c2ln`), header).toBe(false);
    for (const value of ['', 'garbage', 'a.b', `${HEADER}..c2ln`, `${HEADER}.!!!*.c2ln`, `${HEADER}.e30.c2ln.x`, `"${GOOD}"`, `${HEADER}.${segment('{}')}%2E.x`, `${HEADER}.e.x`]) {
      expect(isWellFormedJwt(value), value).toBe(false);
    }
    // Not UTF-8: a lone continuation byte.
    expect(isWellFormedJwt(`${HEADER}.${Buffer.from([0x7b, 0x80, 0x7d]).toString('base64url')}.x`)).toBe(false);
  });

  it('drops a malformed nf_jwt and keeps every other cookie as sent', () => {
    expect(withoutMalformedAccessToken(`theme=dark; nf_jwt=${HEADER}.WzEsMiwzXQ.AAAA; __Host-rolegate_refresh=abc`)).toBe('theme=dark; __Host-rolegate_refresh=abc');
    expect(withoutMalformedAccessToken(`nf_jwt=${HEADER}.WzEsMiwzXQ.AAAA`)).toBeUndefined();
    expect(withoutMalformedAccessToken(`a=1;nf_jwt=${GOOD}`)).toBe(`a=1; nf_jwt=${GOOD}`);
    expect(withoutMalformedAccessToken('nf_jwt')).toBeUndefined();
    expect(withoutMalformedAccessToken(undefined)).toBeUndefined();
  });

  it('keeps at most the first nf_jwt, so a second copy never reaches a parser that reads another one', () => {
    const bad = `${HEADER}.WzFd.AAAA`;
    expect(withoutMalformedAccessToken(`nf_jwt=${GOOD}; nf_jwt=${bad}`)).toBe(`nf_jwt=${GOOD}`);
    expect(withoutMalformedAccessToken(`nf_jwt=${bad}; nf_jwt=${GOOD}`)).toBeUndefined();
    expect(withoutMalformedAccessToken(` nf_jwt =${GOOD}; x=1`)).toBe(`nf_jwt=${GOOD}; x=1`);
  });
});
