/**
 * The embedded database shared by its owner (rolegate dev) with the other local processes:
 * calls only with the per-start secret, from a file only the user can read, and a clear
 * `unavailable` once the owner is gone.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findShare, shareEmbeddedDatabase, shareFilePath, sharedCaller } from '../../src/store/embedded-share.js';
import { StoreUnavailableError } from '../../src/store/errors.js';
import { Json, type FunctionCaller, type SqlArgument } from '../../src/store/sql-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function recordingCaller(): FunctionCaller & { calls: [string, Record<string, SqlArgument | undefined>][] } {
  const calls: [string, Record<string, SqlArgument | undefined>][] = [];
  return {
    kind: 'embedded',
    calls,
    call: async (name, args) => {
      calls.push([name, args]);
      if (name === 'fails') throw new Error('boom');
      return { echoed: name };
    },
    close: async () => undefined,
  };
}

describe('the shared embedded database', () => {
  it('answers calls with the secret only, round-trips JSON arguments, and leaves no file behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rolegate-share-'));
    dirs.push(dir);
    const dataDir = join(dir, 'data');
    const owner = recordingCaller();
    const share = await shareEmbeddedDatabase(dataDir, owner);
    const file = JSON.parse(readFileSync(shareFilePath(dataDir), 'utf8')) as { url: string; secret: string; pid: number };
    expect(statSync(shareFilePath(dataDir)).mode & 0o777).toBe(0o600);
    expect(new URL(file.url).hostname).toBe('127.0.0.1');
    // This process owns it, so it opens the database itself rather than through the share.
    expect(findShare(dataDir)).toBeUndefined();

    const body = JSON.stringify({ name: 'user_json', args: {} });
    for (const headers of [{}, { 'x-rolegate-share-secret': 'wrong' }, { 'x-rolegate-share-secret': `${file.secret}x` }] as Record<string, string>[]) {
      const refused = await fetch(file.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      expect(refused.status).toBe(403);
    }
    expect((await fetch(file.url.replace('/call', '/other'), { method: 'POST', headers: { 'x-rolegate-share-secret': file.secret }, body })).status).toBe(403);
    expect(owner.calls).toEqual([]);

    const caller = sharedCaller({ ...file, pid: file.pid });
    expect(await caller.call('create_user', { p_email: 'a@example.com', p_roles: ['x'], p_meta: new Json({ a: [1] }), p_skip: undefined })).toEqual({ echoed: 'create_user' });
    expect(owner.calls).toEqual([['create_user', { p_email: 'a@example.com', p_roles: ['x'], p_meta: new Json({ a: [1] }) }]]);
    await expect(caller.call('fails', {})).rejects.toThrow('boom');

    await share.close();
    expect(existsSync(shareFilePath(dataDir))).toBe(false);
    await expect(caller.call('user_json', {})).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('ignores a share file whose process is gone', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rolegate-share-'));
    dirs.push(dir);
    const dataDir = join(dir, 'data');
    writeFileSync(shareFilePath(dataDir), JSON.stringify({ url: 'http://127.0.0.1:1/call', secret: 's', pid: 2 ** 22 + 12345 }));
    expect(findShare(dataDir)).toBeUndefined();
  });
});
