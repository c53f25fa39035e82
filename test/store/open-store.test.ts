import { describe, expect, it } from 'vitest';
import { openStoreOnFirstUse } from '../../src/store/open-store.js';
import type { DatabaseConfig } from '../../src/core/environment.js';
import type { Store } from '../../src/store/store.js';
import { Secret } from '../../src/core/secret.js';

const config: DatabaseConfig = { kind: 'postgres', connectionString: new Secret('postgres://u@127.0.0.1:1/db'), source: 'DATABASE_URL', timeoutMs: 100 };

function fakeStore(calls: string[]): Store {
  return {
    kind: 'postgres',
    findUserByEmail: async (email: string) => { calls.push(`find ${email}`); return null; },
    close: async () => { calls.push('close'); },
  } as unknown as Store;
}

describe('a store opened on first use', () => {
  it('loads no adapter until a call needs the database, then opens it once', async () => {
    const calls: string[] = [];
    let opens = 0;
    const store = openStoreOnFirstUse(config, async () => { opens += 1; return fakeStore(calls); });
    expect(store.kind).toBe('postgres');
    expect(opens).toBe(0);
    await Promise.all([store.findUserByEmail('a@example.com'), store.findUserByEmail('b@example.com')]);
    expect(opens).toBe(1);
    expect(calls).toEqual(['find a@example.com', 'find b@example.com']);
    await store.close();
    expect(calls.at(-1)).toBe('close');
  });

  it('reports a failed open to the caller and tries again on the next call', async () => {
    let opens = 0;
    const store = openStoreOnFirstUse(config, async () => {
      opens += 1;
      if (opens === 1) throw new Error('database down');
      return fakeStore([]);
    });
    await expect(store.findUserByEmail('a@example.com')).rejects.toThrow('database down');
    await expect(store.findUserByEmail('a@example.com')).resolves.toBeNull();
    expect(opens).toBe(2);
  });

  it('closes without opening when it was never used, and is not mistaken for a promise', async () => {
    let opens = 0;
    const store = openStoreOnFirstUse(config, async () => { opens += 1; return fakeStore([]); });
    expect(await Promise.resolve(store)).toBe(store);
    expect(JSON.stringify({ store })).toBe('{"store":{}}');
    await store.close();
    expect(opens).toBe(0);
  });
});
