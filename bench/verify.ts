/**
 * Verification throughput: verifyAccessToken (HS256 verify + claim checks,
 * what every gated request of the site's own functions pays) against the
 * physical floor, one raw HMAC-SHA256 over the same signing input.
 */
import { createHmac } from 'node:crypto';
import { signAccessToken, verifyAccessToken, nowSeconds } from '../src/core/access-token.js';
import { Secret } from '../src/core/secret.js';
import { throughput } from './stats.js';
import type { Row } from './report.js';

export async function benchVerify(): Promise<Row[]> {
  const secret = new Secret('bench-secret-0123456789-abcdefghijklmnop');
  const now = nowSeconds();
  const { token } = await signAccessToken({
    subject: { id: '6f0e6c1e-0000-4000-8000-000000000000', email: 'bench@example.com', roles: ['admin', 'member'] },
    sessionId: '7a1d9c1e-0000-4000-8000-000000000000', secret, issuer: 'rolegate', ttlSeconds: 900, now,
  });
  const signingInput = token.slice(0, token.lastIndexOf('.'));
  const key = secret.bytes();
  const floor = await throughput(() => createHmac('sha256', key).update(signingInput).digest('base64url'), { seconds: 2 });
  const verify = await throughput(() => verifyAccessToken(token, { secrets: [secret], issuer: 'rolegate', now }), { seconds: 2 });
  const ratio = verify.median / floor.median;
  return [{
    section: 'verification', name: 'verifyAccessToken per core', unit: 'ops/s', result: verify,
    baseline: { name: 'raw HMAC-SHA256', result: floor }, ratio, goal: '≥ 0.1 of the floor', met: ratio >= 0.1,
  }];
}
