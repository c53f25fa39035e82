import { createHmac, generateKeyPairSync } from 'node:crypto';
import { SignJWT, importPKCS8 } from 'jose';
import { describe, expect, it } from 'vitest';
import { requireRole } from '../../src/auth/require-role.js';
import { signAccessTokenWithJose } from '../../src/core/access-token.js';
import { Secret } from '../../src/core/secret.js';
import { SECRET, authConfig, body, event } from './support.js';

const NOW = 1_800_000_000;
const config = authConfig();
const subject = { id: '6f0e6c1e-0000-4000-8000-000000000001', email: 'ada@example.com', roles: ['member'] };

async function good(options: { roles?: string[]; secret?: string; now?: number; issuer?: string } = {}) {
  return (await signAccessTokenWithJose({
    subject: { ...subject, roles: options.roles ?? subject.roles },
    sessionId: '6f0e6c1e-0000-4000-8000-000000000002',
    secret: new Secret(options.secret ?? SECRET),
    issuer: options.issuer ?? 'rolegate',
    ttlSeconds: 900,
    now: options.now ?? NOW,
  })).token;
}

const claims = { sub: subject.id, email: subject.email, sid: 's', iss: 'rolegate', iat: NOW, exp: NOW + 900, app_metadata: { authorization: { roles: ['admin'] } }, user_metadata: {} };
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function check(token: string, roles: string[] = ['member'], options: Parameters<typeof requireRole>[1] = {}) {
  return requireRole(event({ method: 'GET', cookies: { nf_jwt: token } }), { roles, config, now: NOW, ...options });
}

async function refused(token: string) {
  const result = await check(token, []);
  expect(result.ok).toBe(false);
  if (result.ok) return;
  expect(result.response.statusCode).toBe(401);
  return body(result.response).error.code as string;
}

describe('requireRole, attacked from outside', () => {
  it('lets a valid token through with its user, from the cookie or a Bearer header', async () => {
    const result = await check(await good());
    expect(result.ok && result.user).toMatchObject({ id: subject.id, email: subject.email, roles: ['member'] });
    const bearer = await requireRole(event({ method: 'GET', headers: { authorization: `Bearer ${await good()}` } }), { roles: ['member'], config, now: NOW });
    expect(bearer.ok).toBe(true);
  });

  it('answers 403 forbidden when the role is missing', async () => {
    const result = await check(await good(), ['admin']);
    expect(!result.ok && result.response.statusCode).toBe(403);
    expect(!result.ok && body(result.response).error.code).toBe('forbidden');
  });

  it('accepts the claims the forgeries below start from, when they are signed as rolegate signs', async () => {
    // The control: each refusal below then comes from the one thing that forgery changes.
    const key = new TextEncoder().encode(SECRET);
    const signed = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(key);
    expect((await check(signed, ['admin'])).ok).toBe(true);
    const manual = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
    expect((await check(`${manual}.${createHmac('sha256', SECRET).update(manual).digest('base64url')}`, ['admin'])).ok).toBe(true);
  });

  it('refuses alg:none', async () => {
    expect(await refused(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`)).toBe('unauthenticated');
  });

  it('refuses RS256 tokens and the HS/RS confusion (a public key used as the HMAC secret)', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const rs = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).sign(await importPKCS8(pkcs8, 'RS256'));
    expect(await refused(rs)).toBe('unauthenticated');
    // The classic confusion: the server's public key, which attackers can read, fed in as an HMAC secret.
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const confused = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(pem));
    expect(await refused(confused)).toBe('unauthenticated');
  });

  it('refuses a tampered payload (roles raised after signing)', async () => {
    const [header, , signature] = (await good()).split('.');
    expect(await refused(`${header}.${b64(claims)}.${signature}`)).toBe('unauthenticated');
  });

  it('refuses an expired token as session_expired, and a not-yet-valid one', async () => {
    expect(await refused(await good({ now: NOW - 3600 }))).toBe('session_expired');
    const future = await new SignJWT({ ...claims, nbf: NOW + 600 }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(SECRET));
    expect(await refused(future)).toBe('unauthenticated');
  });

  it('refuses the wrong issuer, another secret, a missing typ, wrong claim types and an oversized token', async () => {
    expect(await refused(await good({ issuer: 'someone-else' }))).toBe('unauthenticated');
    expect(await refused(await good({ secret: 'another-secret-of-sufficient-length-1234567' }))).toBe('unauthenticated');
    const key = new TextEncoder().encode(SECRET);
    expect(await refused(await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(key))).toBe('unauthenticated');
    const badTypes = { ...claims, app_metadata: { authorization: { roles: 'admin' } } };
    expect(await refused(await new SignJWT(badTypes).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(key))).toBe('unauthenticated');
    const huge = await new SignJWT({ ...claims, user_metadata: { pad: 'x'.repeat(5000) } }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(key);
    expect(await refused(huge)).toBe('unauthenticated');
    expect(await refused('garbage')).toBe('unauthenticated');
  });

  it('accepts tokens signed with JWT_SECRET_PREVIOUS during a rotation, and only while it is configured', async () => {
    const old = 'the-previous-secret-still-accepted-0123456789';
    const rotating = authConfig({ JWT_SECRET_PREVIOUS: old });
    const token = await good({ secret: old });
    expect((await check(token, ['member'], { config: rotating })).ok).toBe(true);
    expect((await check(token, ['member'])).ok).toBe(false);
  });

  it('answers 401 unauthenticated without any token', async () => {
    const result = await requireRole(event({ method: 'GET' }), { roles: ['member'], config, now: NOW });
    expect(!result.ok && body(result.response).error.code).toBe('unauthenticated');
  });
});
