import type { AuthConfig } from '../core/config.js';
import type { GateTable } from '../gates/table.js';
import type { Store } from '../store/store.js';

/** What every auth use case receives instead of reaching for globals. */
export interface AuthDeps {
  store: Store;
  config: AuthConfig;
  /** The compiled gates: the refresh bounce decides "role still missing" from it. */
  gates: GateTable;
  /** Seconds since the epoch. */
  now: () => number;
}

export function cookiePolicy(config: AuthConfig) {
  return { domain: config.cookieDomain, accessTtlSeconds: config.accessTokenTtlSeconds, refreshTtlSeconds: config.refreshTokenTtlSeconds };
}
