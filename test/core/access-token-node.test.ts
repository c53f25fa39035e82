/**
 * The Node fast path (node:crypto, synchronous) must answer exactly what the
 * jose path answers: the same claims for a good token, the same error code for
 * a bad one. A corpus of good, expired and forged tokens runs through both.
 */
import { SignJWT, UnsecuredJWT, generateKeyPair, type JWTPayload } from 'jose';
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AccessTokenError, signAccessTokenWithJose, verifyAccessToken, type VerifyAccessTokenOptions } from '../../src/core/access-token.js';
import { signAccessToken, verifyAccessTokenSync } from '../../src/core/access-token-node.js';
import { Secret } from '../../src/core/secret.js';

const secret = new Secret('fast-path-test-secret-0123456789abcdefghij');
const previous = new Secret('fast-path-old-secret-0123456789abcdefghijk');
const other = new Secret('somebody-elses-secret-0123456789abcdefghij');
const NOW = 1_800_000_000;
const options: VerifyAccessTokenOptions = { secrets: [secret, previous], issuer: 'rolegate', now: NOW };
const subject = { id: '7d0e2a52-5f0c-4d7e-9d7e-222222222222', email: 'grace@example.com', roles: ['admin', 'staff'], userMetadata: { name: 'Grace' } };
const claims = { sub: subject.id, iss: 'rolegate', iat: NOW, exp: NOW + 900, email: subject.email, sid: 'sess-9', app_metadata: { authorization: { roles: ['admin'] } }, user_metadata: {} };

async function joseToken(payload: JWTPayload, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }, key: Secret = secret): Promise<string> {
  const alg = String(header.alg);
  const hash = `SHA-${alg.slice(2)}`;
  const cryptoKey = await crypto.subtle.importKey('raw', key.bytes(), { name: 'HMAC', hash }, false, ['sign']);
  return new SignJWT(payload).setProtectedHeader({ ...header, alg }).sign(cryptoKey);
}

/** A token signed with `secret` over any header and payload bytes, even ones jose would not write. */
function rawToken(header: unknown, payload: unknown, key: Secret = secret): string {
  const encode = (v: unknown) => (typeof v === 'string' ? Buffer.from(v, 'binary') : Buffer.from(JSON.stringify(v))).toString('base64url');
  const input = `${encode(header)}.${encode(payload)}`;
  const mac = createHmac('sha256', key.bytes()).update(input).digest('base64url');
  return `${input}.${mac}`;
}

type Outcome = { accepted: unknown } | { refused: string };

async function outcome(verify: () => unknown): Promise<Outcome> {
  try {
    return { accepted: await verify() };
  } catch (error) {
    if (!(error instanceof AccessTokenError)) throw error;
    return { refused: error.code };
  }
}

async function corpus(): Promise<Array<[string, string, VerifyAccessTokenOptions?]>> {
  const good = (await signAccessTokenWithJose({ subject, sessionId: 'sess-1', secret, issuer: 'rolegate', ttlSeconds: 900, now: NOW })).token;
  const [h, p, s] = good.split('.') as [string, string, string];
  const { privateKey } = await generateKeyPair('RS256');
  const without = (claim: string) => Object.fromEntries(Object.entries(claims).filter(([k]) => k !== claim));
  const cases: Array<[string, string, VerifyAccessTokenOptions?]> = [
    ['a good token', good],
    ['a good token, expired', good, { ...options, now: NOW + 900 }],
    ['a good token, expired, read with allowExpired', good, { ...options, now: NOW + 10_000, allowExpired: true }],
    ['a good token, one second before exp', good, { ...options, now: NOW + 899 }],
    ['signed with the previous secret', (await signAccessTokenWithJose({ subject, sessionId: 's', secret: previous, issuer: 'rolegate', ttlSeconds: 60, now: NOW })).token],
    ['signed with another secret', (await signAccessTokenWithJose({ subject, sessionId: 's', secret: other, issuer: 'rolegate', ttlSeconds: 60, now: NOW })).token],
    ['another issuer', (await signAccessTokenWithJose({ subject, sessionId: 's', secret, issuer: 'evil', ttlSeconds: 60, now: NOW })).token],
    ['another issuer and expired', (await signAccessTokenWithJose({ subject, sessionId: 's', secret, issuer: 'evil', ttlSeconds: 60, now: NOW - 1000 })).token],
    ['nbf in the future', await joseToken({ ...claims, nbf: NOW + 60 })],
    ['nbf in the future, allowExpired', await joseToken({ ...claims, nbf: NOW + 60 }), { ...options, allowExpired: true }],
    ['nbf in the past', await joseToken({ ...claims, nbf: NOW - 60 })],
    ['nbf as a string', await joseToken({ ...claims, nbf: String(NOW) as unknown as number })],
    ['exp as a string', rawToken({ alg: 'HS256', typ: 'JWT' }, { ...claims, exp: String(NOW + 900) })],
    ['iat as a string', rawToken({ alg: 'HS256', typ: 'JWT' }, { ...claims, iat: 'now' })],
    ...(['sub', 'iss', 'iat', 'exp', 'sid', 'email'] as const).map((c): [string, string] => [`without ${c}`, rawToken({ alg: 'HS256', typ: 'JWT' }, without(c))]),
    ['sub as a number', rawToken({ alg: 'HS256', typ: 'JWT' }, { ...claims, sub: 42 })],
    ['roles as a string', rawToken({ alg: 'HS256', typ: 'JWT' }, { ...claims, app_metadata: { authorization: { roles: 'admin' } } })],
    ['roles with a number', rawToken({ alg: 'HS256', typ: 'JWT' }, { ...claims, app_metadata: { authorization: { roles: ['admin', 1] } } })],
    ['no app_metadata', rawToken({ alg: 'HS256', typ: 'JWT' }, without('app_metadata'))],
    ['expired with wrong claim types', rawToken({ alg: 'HS256', typ: 'JWT' }, { ...claims, sub: 42, exp: NOW - 5 })],
    ['typ "jwt"', rawToken({ alg: 'HS256', typ: 'jwt' }, claims)],
    ['typ "application/jwt"', rawToken({ alg: 'HS256', typ: 'application/jwt' }, claims)],
    ['typ "JOSE"', rawToken({ alg: 'HS256', typ: 'JOSE' }, claims)],
    ['typ as a number', rawToken({ alg: 'HS256', typ: 1 }, claims)],
    ['no typ', rawToken({ alg: 'HS256' }, claims)],
    ['no alg', rawToken({ typ: 'JWT' }, claims)],
    ['alg "hs256"', rawToken({ alg: 'hs256', typ: 'JWT' }, claims)],
    ['alg none', new UnsecuredJWT(claims).encode()],
    ['alg none with a signature', `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${p}.${s}`],
    ['HS384', await joseToken(claims, { alg: 'HS384', typ: 'JWT' })],
    ['HS512', await joseToken(claims, { alg: 'HS512', typ: 'JWT' })],
    ['RS256', await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).sign(privateKey)],
    ['header swapped for HS384 over an HS256 signature', `${Buffer.from('{"alg":"HS384","typ":"JWT"}').toString('base64url')}.${p}.${s}`],
    ['tampered payload', `${h}.${Buffer.from(JSON.stringify({ ...claims, app_metadata: { authorization: { roles: ['owner'] } } })).toString('base64url')}.${s}`],
    ['truncated signature', `${h}.${p}.${s.slice(0, -1)}`],
    ['empty signature', `${h}.${p}.`],
    ['signature from another token', `${h}.${p}.${good.split('.')[2]!.split('').reverse().join('')}`],
    ['four parts', `${good}.x`],
    ['two parts', `${h}.${p}`],
    ['empty', ''],
    ['not a JWT', 'not.a.jwt'],
    ['header not JSON', `${Buffer.from('alg').toString('base64url')}.${p}.${s}`],
    ['header an array', rawToken(['HS256'], claims)],
    ['payload an array', rawToken({ alg: 'HS256', typ: 'JWT' }, [claims])],
    ['payload a string', rawToken({ alg: 'HS256', typ: 'JWT' }, JSON.stringify('hello'))],
    ['payload null', rawToken({ alg: 'HS256', typ: 'JWT' }, 'null')],
    ['payload not UTF-8', rawToken({ alg: 'HS256', typ: 'JWT' }, '{"a":"\xff\xfe"}')],
    ['oversized', (await signAccessTokenWithJose({ subject: { ...subject, userMetadata: { pad: 'x'.repeat(5000) } }, sessionId: 's', secret, issuer: 'rolegate', ttlSeconds: 60, now: NOW })).token],
  ];
  // Every single-character change of the good token: none may pass either path.
  const alphabet = 'A0_-.x';
  for (let i = 0; i < good.length; i += 7) {
    const replacement = alphabet[i % alphabet.length]!;
    if (good[i] !== replacement) cases.push([`character ${i} changed`, `${good.slice(0, i)}${replacement}${good.slice(i + 1)}`]);
  }
  return cases;
}

describe('the node:crypto fast path and jose', () => {
  it('sign the very same bytes', async () => {
    for (const fingerprintHash of [undefined, 'f'.repeat(64)]) {
      const signOptions = { subject, sessionId: 'sess-1', secret, issuer: 'rolegate', ttlSeconds: 900, now: NOW, fingerprintHash };
      expect(signAccessToken(signOptions)).toEqual(await signAccessTokenWithJose(signOptions));
    }
  });

  it('agree on every token of a corpus of good, expired and forged tokens', async () => {
    const cases = await corpus();
    let accepted = 0;
    for (const [name, token, verifyOptions = options] of cases) {
      const byJose = await outcome(() => verifyAccessToken(token, verifyOptions));
      const byNode = await outcome(() => verifyAccessTokenSync(token, verifyOptions));
      expect({ name, ...byNode }).toEqual({ name, ...byJose });
      if ('accepted' in byJose) accepted += 1;
    }
    // The corpus must exercise both answers, or agreement would prove nothing.
    expect(accepted).toBeGreaterThanOrEqual(8);
    expect(cases.length - accepted).toBeGreaterThanOrEqual(60);
  });

  it('refuses a crit header even where jose would read it (stricter, never looser)', async () => {
    const token = rawToken({ alg: 'HS256', typ: 'JWT', crit: ['b64'], b64: true }, claims);
    expect(await outcome(() => verifyAccessTokenSync(token, options))).toEqual({ refused: 'token_invalid' });
  });

  it('refuses a non-canonical base64url signature', async () => {
    const good = signAccessToken({ subject, sessionId: 's', secret, issuer: 'rolegate', ttlSeconds: 60, now: NOW }).token;
    expect(await outcome(() => verifyAccessTokenSync(`${good}=`, options))).toEqual({ refused: 'token_invalid' });
  });
});
