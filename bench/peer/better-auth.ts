/**
 * Better Auth as the peer the `peer` section measures rolegate beside: the
 * same PostgreSQL cluster as the rest of the bench (its own database in it,
 * created with Better Auth's own getMigrations), email + password, and
 * bcryptjs at rolegate's BCRYPT_COST as its password hash, so the one bcrypt
 * compare of a sign-in is the same work on both sides.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import { hashPassword } from '../../src/core/password.js';
import { POOL_DEFAULTS } from '../../src/store/postgres.js';
import { BENCH_PASSWORD, benchDatabaseUrl } from '../database.js';
import { peerOptions, type PeerSetup } from './options.js';

const DATABASE = 'better_auth_peer';

/** The installed version, for the notes: the range in package.json says less. */
export function betterAuthVersion(): string {
  const manifest = JSON.parse(readFileSync('node_modules/better-auth/package.json', 'utf8')) as { version: string };
  return manifest.version;
}

let database: Promise<string> | undefined;

/** Connection string of Better Auth's own database in the bench cluster, created and migrated on first use. */
export function peerDatabaseUrl(): Promise<string> {
  database ??= (async () => {
    const adminUrl = await benchDatabaseUrl();
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      await admin.query(`drop database if exists ${DATABASE}`);
      await admin.query(`create database ${DATABASE}`);
    } finally {
      await admin.end();
    }
    const url = new URL(adminUrl);
    url.pathname = `/${DATABASE}`;
    const pool = new pg.Pool({ connectionString: url.href, max: 1 });
    try {
      const { runMigrations } = await getMigrations(peerOptions({ pool, cost: 4 }));
      await runMigrations();
    } finally {
      await pool.end();
    }
    return url.href;
  })();
  return database;
}

export type PeerAuth = ReturnType<typeof betterAuth>;

/** A Better Auth instance on its own pool of rolegate's size (two connections per function instance). */
export async function openPeer(options: Omit<PeerSetup, 'pool'>): Promise<{ auth: PeerAuth; pool: pg.Pool }> {
  const pool = new pg.Pool({ connectionString: await peerDatabaseUrl(), max: POOL_DEFAULTS.maxConnections });
  return { auth: betterAuth(peerOptions({ ...options, pool })), pool };
}

export interface PeerUser {
  id: string;
  email: string;
}

/** `count` users with BENCH_PASSWORD, stored as Better Auth's sign-up stores them (one hash, shared, as benchUsers does). */
export async function peerUsers(auth: PeerAuth, count: number, cost: number, prefix: string): Promise<PeerUser[]> {
  const context = await auth.$context;
  const passwordHash = await hashPassword(BENCH_PASSWORD, cost);
  const users: PeerUser[] = [];
  for (let i = 0; i < count; i++) {
    const email = `${prefix}-${i}-${Date.now()}@bench.example`;
    const user = await context.internalAdapter.createUser({ email, name: email, emailVerified: true }, { method: 'email-password' });
    await context.internalAdapter.linkAccount({ userId: user.id, providerId: 'credential', accountId: user.id, password: passwordHash });
    users.push({ id: user.id, email });
  }
  return users;
}

/**
 * A session made the way sign-in makes one after the password check, and its
 * cookie signed the way Better Auth signs it (HMAC-SHA256 of the token,
 * base64): the renewal load is about the session read and refresh, and
 * 200 bcrypt compares would only slow the bench down. Returns the cookie header.
 */
export async function peerSessionCookie(auth: PeerAuth, userId: string): Promise<string> {
  const context = await auth.$context;
  const session = await context.internalAdapter.createSession(userId, false);
  const signature = createHmac('sha256', context.secret).update(session.token).digest('base64');
  return `${context.authCookies.sessionToken.name}=${encodeURIComponent(`${session.token}.${signature}`)}`;
}

/** The name=value pairs of a response's Set-Cookie headers, as a browser would send them back. */
export function cookieHeaderOf(headers: Headers): string {
  return headers.getSetCookie().map((cookie) => cookie.split(';')[0]!).filter((pair) => !pair.endsWith('=')).join('; ');
}
