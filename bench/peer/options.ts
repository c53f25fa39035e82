/**
 * Better Auth's options for the bench, in a file of their own because the
 * login function bundled for its cold start (login-function.ts) uses them too
 * and must carry nothing of the bench.
 */
import bcrypt from 'bcryptjs';
import type pg from 'pg';
import type { BetterAuthOptions } from 'better-auth';

export const PEER_SITE = 'https://site.example';
export const PEER_SECRET = 'bench-peer-secret-0123456789-abcdefghijklmnop';

export interface PeerSetup {
  pool: pg.Pool;
  /** rolegate's BCRYPT_COST, so both sides hash and compare alike. */
  cost: number;
  cookieCache?: boolean;
  /** Seconds; 0 makes every session read a refresh (an UPDATE of expiresAt and a new cookie). */
  updateAge?: number;
  /** Better Auth checks its tables on an instance's first request by default; false skips that. */
  validateSchema?: boolean;
}

/** Email and password with bcryptjs at `cost`; bcrypt.compare is looked up per call so the bench can time it. */
export function peerOptions({ pool, cost, cookieCache = false, updateAge, validateSchema }: PeerSetup): BetterAuthOptions {
  return {
    baseURL: PEER_SITE,
    secret: PEER_SECRET,
    database: pool,
    trustedOrigins: [PEER_SITE],
    telemetry: { enabled: false },
    logger: { level: 'error' },
    // Its default limiter (3 sign-ins per 10 s per address) would refuse the bench's sign-ins.
    rateLimit: { enabled: false },
    ...(validateSchema === undefined ? {} : { advanced: { database: { validateSchema } } }),
    emailAndPassword: {
      enabled: true,
      password: {
        hash: (password) => bcrypt.hash(password, cost),
        verify: ({ hash, password }) => bcrypt.compare(password, hash),
      },
    },
    session: {
      cookieCache: { enabled: cookieCache, maxAge: 300 },
      ...(updateAge === undefined ? {} : { updateAge }),
    },
  };
}

