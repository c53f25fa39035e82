import { resolve } from 'node:path';
import { readDatabaseConfig, type DatabaseConfig } from '../core/environment.js';
import { openStore } from '../store/open-store.js';
import { withSiteDataDir } from '../site/data-dir.js';
import type { Store } from '../store/store.js';
import type { CliIo } from './io.js';

/**
 * The database the environment names, with a relative embedded data directory
 * read against the command's working directory (not the process's), so
 * in-process callers and the shell agree on which database is meant; without
 * ROLEGATE_DATA_DIR, the site's default (src/site/data-dir.ts), as rolegate dev uses.
 */
export function cliDatabaseConfig(io: CliIo): DatabaseConfig {
  const config = readDatabaseConfig(withSiteDataDir(io.env, io.cwd));
  if (config.kind === 'embedded' && !config.dataDir.startsWith('memory://')) {
    return { ...config, dataDir: resolve(io.cwd, config.dataDir) };
  }
  return config;
}

/** Opens the store for one command and always closes it (releasing the embedded lock). */
export async function withStore<T>(io: CliIo, use: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(cliDatabaseConfig(io));
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}
