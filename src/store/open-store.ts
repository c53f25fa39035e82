import type { DatabaseConfig } from '../core/config.js';
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
