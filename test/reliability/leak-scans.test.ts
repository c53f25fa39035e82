/**
 * The scans the other reliability files end with — secrets in the logs, raw
 * refresh tokens at rest — must be able to fail, or their green proves
 * nothing. Here each is shown a planted leak through the same channels a
 * careless change would use, and must find it.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRefreshToken, refreshTokenHash } from '../../src/core/refresh-token.js';
import { Secret } from '../../src/core/secret.js';
import type { Store } from '../../src/store/store.js';
import { SECRET } from '../auth/support.js';
import { openTestStore, type TestStore } from '../support/databases.js';
import { captureLogs, leakedSecrets } from '../support/log-capture.js';
import { rawTokensAtRest, tokensIn } from './tables.js';

describe('the leak scans find what they look for', () => {
  it('the log capture sees console.*, process.stdout and process.stderr, and the scan finds secrets in every encoding', () => {
    const token = newRefreshToken();
    const secrets = new Map([['JWT_SECRET', SECRET], ['refresh token', token], ['password', 'p@ss word!']]);
    for (const leak of [
      () => console.error('failed for', { cookie: `__Host-rolegate_refresh=${token}` }),
      () => console.warn(`secret ${SECRET}`),
      () => process.stderr.write(`body=${encodeURIComponent('p@ss word!')}\n`),
      () => process.stdout.write(Buffer.from(JSON.stringify({ s: SECRET }))),
      () => console.log(Buffer.from(SECRET).toString('base64')),
    ]) {
      const capture = captureLogs();
      try {
        leak();
      } finally {
        capture.stop();
      }
      expect(leakedSecrets(capture.text(), secrets).length, leak.toString()).toBeGreaterThan(0);
    }
    // The configuration's Secret wrapper prints redacted, so logging the config is safe.
    const capture = captureLogs();
    console.log({ jwtSecret: new Secret(SECRET) });
    capture.stop();
    expect(leakedSecrets(capture.text(), secrets)).toEqual([]);
  });

  it('finds a refresh token inside a longer run of token characters', () => {
    const token = newRefreshToken();
    expect(tokensIn(`x${refreshTokenHash(token)}${token}abc`, new Set([token]))).toEqual([token]);
    expect(tokensIn(refreshTokenHash(token), new Set([token]))).toEqual([]);
  });

  describe('in the tables', () => {
    let t: TestStore;
    let store: Store;
    let sql: pg.Pool;
    beforeAll(async () => {
      t = await openTestStore({ inspectConnections: 1 });
      ({ store, sql } = t);
    });
    afterAll(() => t.close());

    it('finds a raw token in a jsonb column, a text column or an array, and none where only hashes are', async () => {
      const tokens = [newRefreshToken(), newRefreshToken(), newRefreshToken()];
      const user = await store.createUser({ email: 'scan@example.com', passwordHash: null, roles: [] });
      if (user.status !== 'created') throw new Error('fixture');
      await store.createSession({ userId: user.user.id, refreshTokenHash: refreshTokenHash(tokens[0]!), refreshTtlSeconds: 60, userAgent: 'Mozilla/5.0' });
      expect(await rawTokensAtRest(sql, new Set(tokens))).toEqual([]);
      await store.audit({ event: 'oops', detail: { cookie: tokens[0] } });
      await sql.query('update rolegate.sessions set user_agent = $1', [`agent ${tokens[1]}`]);
      await store.setUserRoles(user.user.id, [tokens[2]!]);
      const hits = await rawTokensAtRest(sql, new Set(tokens));
      expect([...new Set(hits.map((h) => h.table))].sort()).toEqual(['audit_log', 'sessions', 'users']);
      expect(new Set(hits.map((h) => h.token))).toEqual(new Set(tokens));
    });
  });
});
