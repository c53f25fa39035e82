import { nowSeconds } from '../core/access-token-claims.js';
import { readConfig, type Env } from '../core/config.js';
import { gateTableFromConfig } from '../gates/compile.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';
import type { AuthDeps } from './deps.js';

/**
 * What a function instance sets up once, at cold start: the environment
 * (checked now, so a bad value fails the first request with a message naming
 * the variable), the gate table, and a store opened on first use and then
 * kept for the life of the instance.
 */
export function functionRuntime(env: Env, gateConfig: unknown): () => Promise<AuthDeps> {
  const config = readConfig(env);
  const gates = gateTableFromConfig(gateConfig);
  let store: Promise<Store> | undefined;
  return async () => {
    store ??= openStore(config.database).catch((error: unknown) => {
      store = undefined;
      throw error;
    });
    return { store: await store, config: config.auth, gates, now: nowSeconds };
  };
}
