import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPGlite, openEmbeddedStore } from '../../src/store/embedded.js';
import { ConfigError } from '../../src/core/environment.js';
import type { PGlite } from '@electric-sql/pglite';
import { describeStoreContract } from './contract.js';

describeStoreContract('embedded (PGlite)', async () => {
  const store = await openEmbeddedStore({ dataDir: 'memory://' });
  // The caller holds the PGlite instance; reach it for fixture SQL only.
  const db = (store as unknown as { db: { db: PGlite } }).db.db;
  return {
    store,
    query: async (text, values) => (await db.query<Record<string, unknown>>(text, values)).rows,
    close: () => store.close(),
  };
});

describe('loading PGlite', () => {
  it('loads the package from node_modules', async () => {
    expect(typeof (await loadPGlite()).PGlite.create).toBe('function');
  });

  it('names the package and the way out when it cannot be loaded, as a setup problem rather than an outage', async () => {
    const failure = await loadPGlite('@electric-sql/no-such-package').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ConfigError);
    expect((failure as ConfigError).problems).toEqual([expect.stringMatching(/needs the package @electric-sql\/no-such-package, .*install it, or set DATABASE_URL or SUPABASE_URL/)]);
  });
});

describe('embedded store on disk', () => {
  it('keeps its data across a close and reopen, and applies migrations once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rolegate-embedded-'));
    try {
      const dataDir = join(dir, 'data');
      const first = await openEmbeddedStore({ dataDir });
      await first.createUser({ email: 'kept@example.com', passwordHash: null, roles: ['admin'] });
      await first.close();
      const second = await openEmbeddedStore({ dataDir });
      expect((await second.findUserByEmail('kept@example.com'))?.roles).toEqual(['admin']);
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shares one database between two opens in the same process instead of splitting writes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rolegate-embedded-'));
    try {
      const dataDir = join(dir, 'data');
      const a = await openEmbeddedStore({ dataDir });
      const b = await openEmbeddedStore({ dataDir });
      await a.createUser({ email: 'shared@example.com', passwordHash: null });
      expect(await b.findUserByEmail('shared@example.com')).not.toBeNull();
      await a.close();
      // b is still usable after a closes: the database stays open while anyone holds it.
      expect(await b.findUserByEmail('shared@example.com')).not.toBeNull();
      await b.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
