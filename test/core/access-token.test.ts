import { SignJWT, UnsecuredJWT, decodeProtectedHeader, exportSPKI, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { AccessTokenError, MAX_ACCESS_TOKEN_BYTES, rolesAtClaimPath, signAccessTokenWithJose, verifyAccessToken, type AccessTokenClaims, type VerifyAccessTokenOptions } from '../../src/core/access-token.js';
import { signAccessToken, verifyAccessTokenSync } from '../../src/core/access-token-node.js';
import { Secret } from '../../src/core/secret.js';

const secret = new Secret('access-token-test-secret-0123456789abcdef');
const previous = new Secret('access-token-old-secret-0123456789abcdefgh');
const NOW = 1_800_000_000;
const subject = { id: '7d0e2a52-5f0c-4d7e-9d7e-111111111111', email: 'ada@example.com', roles: ['admin'] };
const verifyOptions = { secrets: [secret], issuer: 'rolegate', now: NOW };

// Every test runs against both implementations: jose (Web runtimes) and the
// synchronous node:crypto fast path the Node functions use.
const implementations = [
  { name: 'jose', signToken: signAccessTokenWithJose, verify: verifyAccessToken },
  {
    name: 'node:crypto fast path',
    signToken: async (options: Parameters<typeof signAccessTokenWithJose>[0]) => signAccessToken(options),
    verify: async (token: string, options: VerifyAccessTokenOptions): Promise<AccessTokenClaims> => verifyAccessTokenSync(token, options),
  },
];

const hmac = (bytes: Uint8Array<ArrayBuffer>) => crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
const claims = { email: subject.email, sid: 'sess-1', app_metadata: { authorization: { roles: ['admin'] } }, user_metadata: {} };

describe.each(implementations)('access tokens ($name)', ({ signToken, verify: verifyAccessToken }) => {
  const sign = (overrides: Partial<Parameters<typeof signAccessTokenWithJose>[0]> = {}) =>
    signToken({ subject, sessionId: 'sess-1', secret, issuer: 'rolegate', ttlSeconds: 900, now: NOW, ...overrides });

  async function refusal(token: string, options = verifyOptions): Promise<string> {
    try {
      await verifyAccessToken(token, options);
    } catch (error) {
      expect(error).toBeInstanceOf(AccessTokenError);
      return (error as AccessTokenError).code;
    }
    return 'accepted';
  }

  it('have exactly the header Netlify reads and the claims rolegate promises', async () => {
    const { token, expiresAt } = await sign({ subject: { ...subject, userMetadata: { full_name: 'Ada' } } });
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(expiresAt).toBe(NOW + 900);
    const verified = await verifyAccessToken(token, verifyOptions);
    expect(verified).toMatchObject({ sub: subject.id, email: subject.email, iat: NOW, exp: NOW + 900, iss: 'rolegate', sid: 'sess-1', user_metadata: { full_name: 'Ada' } });
    expect(rolesAtClaimPath(verified)).toEqual(['admin']);
    expect(verified.fph).toBeUndefined();
  });

  it('are accepted under JWT_SECRET_PREVIOUS during a rotation, and new ones are signed with the current secret', async () => {
    const { token } = await sign({ secret: previous });
    expect(await refusal(token)).toBe('token_invalid');
    expect((await verifyAccessToken(token, { ...verifyOptions, secrets: [secret, previous] })).sub).toBe(subject.id);
  });

  it('expire at exp, and are refused before iat-based nbf', async () => {
    const { token } = await sign();
    expect(await refusal(token, { ...verifyOptions, now: NOW + 901 })).toBe('token_expired');
    const future = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject(subject.id).setIssuer('rolegate')
      .setIssuedAt(NOW).setNotBefore(NOW + 60).setExpirationTime(NOW + 900).sign(await hmac(secret.bytes()));
    expect(await refusal(future)).toBe('token_invalid');
  });

  it('refuse alg:none, RS256, and an HS256 token keyed with the public key (algorithm confusion)', async () => {
    const none = new UnsecuredJWT(claims).setSubject(subject.id).setIssuer('rolegate').setIssuedAt(NOW).setExpirationTime(NOW + 900).encode();
    expect(await refusal(none)).toBe('token_invalid');
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const rs = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).setSubject(subject.id).setIssuer('rolegate')
      .setIssuedAt(NOW).setExpirationTime(NOW + 900).sign(privateKey);
    expect(await refusal(rs)).toBe('token_invalid');
    const pem = await exportSPKI(publicKey);
    const confused = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject(subject.id).setIssuer('rolegate')
      .setIssuedAt(NOW).setExpirationTime(NOW + 900).sign(await hmac(new TextEncoder().encode(pem)));
    expect(await refusal(confused)).toBe('token_invalid');
  });

  it('refuse a tampered payload, another issuer, a missing typ, wrong claim types and oversized tokens', async () => {
    const { token } = await sign();
    const [header, payload, signature] = token.split('.');
    const raised = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    raised.app_metadata.authorization.roles = ['admin', 'owner'];
    expect(await refusal(`${header}.${Buffer.from(JSON.stringify(raised)).toString('base64url')}.${signature}`)).toBe('token_invalid');
    expect(await refusal((await sign({ issuer: 'someone-else' })).token)).toBe('token_invalid');
    const noTyp = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject(subject.id).setIssuer('rolegate')
      .setIssuedAt(NOW).setExpirationTime(NOW + 900).sign(await hmac(secret.bytes()));
    expect(await refusal(noTyp)).toBe('token_invalid');
    const badRoles = await new SignJWT({ ...claims, app_metadata: { authorization: { roles: 'admin' } } }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(subject.id).setIssuer('rolegate').setIssuedAt(NOW).setExpirationTime(NOW + 900).sign(await hmac(secret.bytes()));
    expect(await refusal(badRoles)).toBe('token_invalid');
    const huge = (await sign({ subject: { ...subject, userMetadata: { pad: 'x'.repeat(MAX_ACCESS_TOKEN_BYTES) } } })).token;
    expect(await refusal(huge)).toBe('token_invalid');
    expect(await refusal('')).toBe('token_missing');
    expect(await refusal('not.a.jwt')).toBe('token_invalid');
  });

  it('carry the fingerprint hash when one is given', async () => {
    const { token } = await sign({ fingerprintHash: 'a'.repeat(64) });
    expect((await verifyAccessToken(token, verifyOptions)).fph).toBe('a'.repeat(64));
  });
});
