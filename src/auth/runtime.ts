import { nowSeconds } from '../core/access-token-claims.js';
import { readConfig, type Env } from '../core/environment.js';
import { openStoreOnFirstUse } from '../store/open-store.js';
import { gotruePasswordCheck } from '../sync/gotrue-password.js';
import { kickMailDelivery } from '../mail/kick.js';
import type { AuthDeps } from './deps.js';
import { prebuiltAccountSettings, prebuiltGateTable } from '../site-config/compiled.js';

/**
 * What a function instance sets up once, at cold start: the environment
 * (checked now, so a bad value fails the first request with a message naming
 * the variable), the gate table compiled at build time from `gateConfig`
 * (src/site-config/compiled.ts: refused when the config changed since), and a store whose adapter is loaded and
 * opened by the first request that needs the database, then kept for the life
 * of the instance.
 */
export function functionRuntime(env: Env, gateConfig: unknown, prebuiltGates: unknown): () => Promise<AuthDeps> {
  const config = readConfig(env);
  const gates = prebuiltGateTable(gateConfig, prebuiltGates);
  const deps: AuthDeps = {
    store: openStoreOnFirstUse(config.database),
    config: config.auth,
    gates,
    now: nowSeconds,
    accounts: prebuiltAccountSettings(gateConfig, prebuiltGates),
    mail: config.mail,
    kickMail: () => kickMailDelivery(config.auth.siteUrl, { secret: config.auth.jwtSecret }),
    ...(config.auth.identityUrl ? { identityPasswords: gotruePasswordCheck(config.auth.identityUrl) } : {}),
  };
  return async () => deps;
}
