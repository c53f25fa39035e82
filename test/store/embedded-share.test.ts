/**
 * The embedded database shared by its owner (rolegate dev) with the other local processes:
 * calls only from a caller that proves it read the share file (an HMAC under its secret over a
 * nonce the owner gave, used once), a file only the user can read and written whole, and a
 * clear `unavailable` once the owner is gone.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findShare, shareEmbeddedDatabase, shareFilePath, sharedCaller, shareProof } from '../../src/store/embedded-share.js';
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
  it('answers only a caller that proves it read the file, each proof once, round-trips JSON arguments, and leaves no file behind', async () => {
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
    const nonce = async () => ((await (await fetch(new URL('/nonce', file.url))).json()) as { nonce: string }).nonce;
    const send = (headers: Record<string, string>, text = body, url = file.url) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: text });
    // What someone who can reach the port but not read the file can send.
    const n1 = await nonce();
    for (const headers of [{}, { 'x-rolegate-share-secret': file.secret }, { 'x-rolegate-share-nonce': n1 }, { 'x-rolegate-share-nonce': await nonce(), 'x-rolegate-share-proof': shareProof('a guessed secret', n1, body) }] as Record<string, string>[]) {
      expect((await send(headers)).status).toBe(403);
    }
    // A proof for a nonce never handed out, for another body, or for a nonce already used.
    expect((await send({ 'x-rolegate-share-nonce': 'made-up', 'x-rolegate-share-proof': shareProof(file.secret, 'made-up', body) })).status).toBe(403);
    const n2 = await nonce();
    expect((await send({ 'x-rolegate-share-nonce': n2, 'x-rolegate-share-proof': shareProof(file.secret, n2, body) }, JSON.stringify({ name: 'delete_user', args: {} }))).status).toBe(403);
    const n3 = await nonce();
    const good = { 'x-rolegate-share-nonce': n3, 'x-rolegate-share-proof': shareProof(file.secret, n3, body) };
    expect((await send(good, body, file.url.replace('/call', '/other'))).status).toBe(403);
    expect((await send(good)).status).toBe(403);
    expect(owner.calls).toEqual([]);
    const n4 = await nonce();
    const once = { 'x-rolegate-share-nonce': n4, 'x-rolegate-share-proof': shareProof(file.secret, n4, body) };
    expect((await send(once)).status).toBe(200);
    expect((await send(once)).status).toBe(403);
    expect(owner.calls).toEqual([['user_json', {}]]);
    owner.calls.length = 0;

    const caller = sharedCaller({ ...file, pid: file.pid });
    expect(await caller.call('create_user', { p_email: 'a@example.com', p_roles: ['x'], p_meta: new Json({ a: [1] }), p_skip: undefined })).toEqual({ echoed: 'create_user' });
    expect(owner.calls).toEqual([['create_user', { p_email: 'a@example.com', p_roles: ['x'], p_meta: new Json({ a: [1] }) }]]);
    await expect(caller.call('fails', {})).rejects.toThrow('boom');

    await share.close();
    expect(existsSync(shareFilePath(dataDir))).toBe(false);
    await expect(caller.call('user_json', {})).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('refuses a proof made with a nonce older than 30 seconds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rolegate-share-'));
    dirs.push(dir);
    const dataDir = join(dir, 'data');
    const owner = recordingCaller();
    let now = 1_000_000;
    const share = await shareEmbeddedDatabase(dataDir, owner, { now: () => now });
    try {
      const file = JSON.parse(readFileSync(shareFilePath(dataDir), 'utf8')) as { url: string; secret: string };
      const body = JSON.stringify({ name: 'user_json', args: {} });
      const { nonce } = (await (await fetch(new URL('/nonce', file.url))).json()) as { nonce: string };
      now += 30_000;
      const late = await fetch(file.url, { method: 'POST', headers: { 'x-rolegate-share-nonce': nonce, 'x-rolegate-share-proof': shareProof(file.secret, nonce, body) }, body });
      expect(late.status).toBe(403);
      expect(owner.calls).toEqual([]);
    } finally {
      await share.close();
    }
  });

  it('writes the share file whole and for this user only, even over a stale one anyone could read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rolegate-share-'));
    dirs.push(dir);
    const dataDir = join(dir, 'data');
    writeFileSync(shareFilePath(dataDir), JSON.stringify({ url: 'http://127.0.0.1:1/call', secret: 'old', pid: 2 ** 22 + 12345 }), { mode: 0o644 });
    const share = await shareEmbeddedDatabase(dataDir, recordingCaller());
    try {
      expect(statSync(shareFilePath(dataDir)).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(shareFilePath(dataDir), 'utf8'))).toMatchObject({ pid: process.pid });
      expect(readdirSync(dir)).toEqual(['data.share.json']);
    } finally {
      await share.close();
    }
  });

  it('ignores a share file whose process is gone', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rolegate-share-'));
    dirs.push(dir);
    const dataDir = join(dir, 'data');
    writeFileSync(shareFilePath(dataDir), JSON.stringify({ url: 'http://127.0.0.1:1/call', secret: 's', pid: 2 ** 22 + 12345 }));
    expect(findShare(dataDir)).toBeUndefined();
  });
});
