/**
 * The real PostgreSQL the login and refresh sections run against: a throwaway
 * cluster from the machine's own binaries, started the way the tests start
 * theirs (test/support/postgres-cluster.ts), migrated with rolegate's own
 * migrations, started once per bench run and stopped at its end.
 */
import { startPostgresCluster, type PostgresCluster } from '../test/support/postgres-cluster.js';
import { migratePostgres, openPostgresStore } from '../src/store/postgres.js';
import { hashPassword } from '../src/core/password.js';
import { newRefreshToken, refreshTokenHash } from '../src/core/refresh-token.js';
import type { Store, User } from '../src/store/store.js';

let cluster: Promise<PostgresCluster> | undefined;

/** Connection string of the bench's migrated database. */
export async function benchDatabaseUrl(): Promise<string> {
  cluster ??= (async () => {
    const started = await startPostgresCluster();
    await migratePostgres(started.adminUrl);
    return started;
  })();
  return (await cluster).adminUrl;
}

export async function stopBenchDatabase(): Promise<void> {
  if (cluster) (await cluster).stop();
  cluster = undefined;
}

export const BENCH_PASSWORD = 'correct horse battery staple';

/** `count` users with BENCH_PASSWORD hashed at `cost` (one hash, shared: hashing is not what is measured). */
export async function benchUsers(store: Store, count: number, cost: number, prefix: string): Promise<User[]> {
  const passwordHash = await hashPassword(BENCH_PASSWORD, cost);
  const users: User[] = [];
  for (let i = 0; i < count; i++) {
    const result = await store.createUser({ email: `${prefix}-${i}-${Date.now()}@bench.example`, passwordHash, roles: ['member'] });
    if (result.status !== 'created') throw new Error('bench user not created');
    users.push(result.user);
  }
  return users;
}

/**
 * `count` signed-in sessions, made the way login makes them after the
 * password check (a new refresh token, its hash stored): the refresh load is
 * about rotation, and 200 bcrypt compares would only slow the bench down.
 * Returns each session's refresh token.
 */
export async function benchSessions(url: string, count: number, prefix: string): Promise<string[]> {
  const store = openPostgresStore({ connectionString: url });
  try {
    const users = await benchUsers(store, Math.ceil(count / 10), 10, prefix);
    const tokens: string[] = [];
    for (let i = 0; i < count; i++) {
      const token = newRefreshToken();
      const session = await store.createSession({ userId: users[i % users.length]!.id, refreshTokenHash: refreshTokenHash(token), refreshTtlSeconds: 3600, userAgent: 'rolegate bench' });
      if (session.status !== 'created') throw new Error('bench session not created');
      tokens.push(token);
    }
    return tokens;
  } finally {
    await store.close();
  }
}

