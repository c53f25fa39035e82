/**
 * Verification throughput: what every gated request to a site's own function
 * pays (requireRole: HS256 verify + claim checks), against the physical floor,
 * one raw HMAC-SHA256 over the same signing input. requireRole uses the
 * node:crypto fast path; the jose path (kept for Web runtimes) is measured
 * beside it against the same floor.
 */
import { createHmac } from 'node:crypto';
import type { HandlerEvent } from '@netlify/functions';
import { signAccessTokenWithJose, verifyAccessToken, nowSeconds } from '../src/core/access-token.js';
import { verifyAccessTokenSync } from '../src/core/access-token-node.js';
import { readConfig } from '../src/core/environment.js';
import { requireRole } from '../src/auth/require-role.js';
import { Secret } from '../src/core/secret.js';
import { throughput } from './stats.js';
import type { Row } from './report.js';

const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';

export async function benchVerify(): Promise<Row[]> {
  const secret = new Secret(SECRET);
  const now = nowSeconds();
  const { token } = await signAccessTokenWithJose({
    subject: { id: '6f0e6c1e-0000-4000-8000-000000000000', email: 'bench@example.com', roles: ['admin', 'member'] },
    sessionId: '7a1d9c1e-0000-4000-8000-000000000000', secret, issuer: 'rolegate', ttlSeconds: 900, now,
  });
  const signingInput = token.slice(0, token.lastIndexOf('.'));
  const key = secret.bytes();
  const config = readConfig({ JWT_SECRET: SECRET, ROLEGATE_DATA_DIR: 'unused' }).auth;
  const event = { httpMethod: 'GET', path: '/.netlify/functions/whoami', headers: { cookie: `nf_jwt=${token}` } } as unknown as HandlerEvent;
  // A check that cannot fail proves nothing: each candidate must accept this token first.
  if (!(await requireRole(event, { roles: ['admin'], config, now })).ok) throw new Error('requireRole refused the bench token');
  verifyAccessTokenSync(token, { secrets: [secret], issuer: 'rolegate', now });

  const floor = await throughput(() => createHmac('sha256', key).update(signingInput).digest('base64url'), { seconds: 2 });
  // What any verifier of this token must do at the least: the HMAC, and the payload's claims read.
  const encodedPayload = signingInput.slice(signingInput.indexOf('.') + 1);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const least = () => [createHmac('sha256', key).update(signingInput).digest('base64url'), JSON.parse(utf8.decode(Buffer.from(encodedPayload, 'base64url'))) as unknown];
  const candidates: Array<[string, () => unknown]> = [
    ['reference: one HMAC-SHA256 and the payload decoded and parsed (the least a verify does)', least],
    ['requireRole (node:crypto fast path)', () => requireRole(event, { roles: ['admin'], config, now })],
    ['verifyAccessTokenSync (node:crypto)', () => verifyAccessTokenSync(token, { secrets: [secret], issuer: 'rolegate', now })],
    ['verifyAccessToken (jose, Web runtimes)', () => verifyAccessToken(token, { secrets: [secret], issuer: 'rolegate', now })],
  ];
  const rows: Row[] = [];
  for (const [name, run] of candidates) {
    const result = await throughput(run, { seconds: 2 });
    const ratio = result.median / floor.median;
    // The goal is requireRole's (half of what one HMAC costs); the other rows show where its time goes.
    const goal = name.startsWith('requireRole') ? { goal: '≥ 0.5 of the floor', met: ratio >= 0.5 } : {};
    rows.push({ section: 'verification', name: name.startsWith('reference') ? name : `${name} per core`, unit: 'ops/s', result, baseline: { name: 'raw HMAC-SHA256', result: floor }, ratio, ...goal });
  }
  return rows;
}
