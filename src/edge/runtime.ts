import { nowSeconds } from '../core/access-token.js';
import { ConfigError, readConfig, type AuthConfig, type Env } from '../core/environment.js';
import type { AuthDeps } from '../auth/deps.js';
import type { GateTable } from '../gates/table.js';
import { openSupabaseStore } from '../store/supabase.js';

export interface EdgeRuntimeOptions {
  /** The environment, read once per isolate: `Netlify.env.toObject()` on Netlify. */
  env: () => Env;
  /** Seconds since the epoch; injected by tests. */
  now?: () => number;
  /** For the Supabase store's HTTP calls; tests and unusual runtimes. */
  fetch?: typeof fetch;
}

export interface EdgeRuntime {
  now: () => number;
  /** Null when the environment is unusable: then no token passes and every visitor is bounced. */
  auth: AuthConfig | null;
  /** The refresh use case's dependencies, or null when the users are not reachable over HTTP. */
  deps: AuthDeps | null;
}

/**
 * Reads the same environment variables as the functions (src/core/environment.ts), so the edge and
 * the functions verify and sign with the same secret, issuer and cookie settings. Only a
 * Supabase store (PostgREST over fetch) can be used from the edge; with DATABASE_URL or the
 * embedded store the edge still checks tokens and leaves refreshing to the bounce.
 *
 * Fails closed: a bad environment is logged (variable names only, never values) and every
 * gated request is bounced to the refresh function, which reports the same problem.
 */
export function loadEdgeRuntime(options: EdgeRuntimeOptions, table: GateTable): EdgeRuntime {
  const now = options.now ?? nowSeconds;
  let config;
  try {
    config = readConfig(options.env());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`rolegate edge gate: ${error.message}\nevery gated request is bounced to the refresh function until this is fixed`);
    return { now, auth: null, deps: null };
  }
  const { auth, database } = config;
  if (database.kind !== 'supabase') return { now, auth, deps: null };
  const store = openSupabaseStore({
    url: database.url,
    serviceRoleKey: database.serviceRoleKey.reveal(),
    timeoutMs: database.timeoutMs,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  return { now, auth, deps: { store, config: auth, gates: table, now } };
}
