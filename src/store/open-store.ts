import type { DatabaseConfig } from '../core/environment.js';
import type { Store } from './store.js';

/**
 * Opens the store the configuration names. Each adapter is imported only
 * when chosen, so a function deployed against Supabase never loads PGlite or
 * node-postgres (cold starts pay for every import).
 *
 * @example
 * const store = await openStore(readDatabaseConfig(process.env));
 */
export async function openStore(config: DatabaseConfig): Promise<Store> {
  switch (config.kind) {
    case 'supabase': {
      const { openSupabaseStore } = await import('./supabase.js');
      return openSupabaseStore({ url: config.url, serviceRoleKey: config.serviceRoleKey.reveal(), timeoutMs: config.timeoutMs });
    }
    case 'postgres': {
      const { openPostgresStore } = await import('./postgres.js');
      return openPostgresStore({ connectionString: config.connectionString.reveal(), timeoutMs: config.timeoutMs });
    }
    case 'embedded': {
      const { openEmbeddedStore } = await import('./embedded.js');
      return openEmbeddedStore({ dataDir: config.dataDir });
    }
  }
}

/**
 * A Store that loads and opens its adapter on the first call that needs the
 * database. A function instance answers many requests without one (the
 * gate's bounce for a visitor with no session, a malformed login, a refused
 * origin) and those should not pay for loading a driver at cold start: `pg`
 * alone takes ~30 ms to import on Node 20 (BENCHMARKS.md, cold start). A
 * failed open is forgotten, so the next call tries again.
 *
 * @example
 * const store = openStoreOnFirstUse(config.database);
 * await store.findUserByEmail('a@example.com'); // the adapter is imported and opened here
 */
export function openStoreOnFirstUse(config: DatabaseConfig, open: (config: DatabaseConfig) => Promise<Store> = openStore): Store {
  let opened: Promise<Store> | undefined;
  const store = (): Promise<Store> => {
    opened ??= open(config).catch((error: unknown) => {
      opened = undefined;
      throw error;
    });
    return opened;
  };
  return new Proxy({} as Store, {
    get(_target, name) {
      if (name === 'kind') return config.kind;
      // Not a thenable (`await deps.store` must not call a method named then),
      // and serialising or inspecting it must not open the database.
      if (typeof name !== 'string' || name === 'then' || name === 'toJSON') return undefined;
      if (name === 'close') return async () => (opened ? (await opened).close() : undefined);
      return async (...args: unknown[]) => {
        const target = await store();
        const method = (target as unknown as Record<string, unknown>)[name];
        if (typeof method !== 'function') throw new TypeError(`Store has no method ${name}`);
        return method.apply(target, args) as unknown;
      };
    },
  });
}
