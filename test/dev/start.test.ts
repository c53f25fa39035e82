import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildLocalGates, devJwtSecret, exitWithNetlifyDev, seedAdmin } from '../../src/dev/start.js';
import { verifyPassword } from '../../src/core/password.js';
import { openEmbeddedStore, openSharedEmbeddedStore } from '../../src/store/embedded.js';
import { shareFilePath } from '../../src/store/embedded-share.js';

describe('npm start', () => {
  it('reads the dev-only JWT secret from the [dev] table of netlify.toml, nowhere else', () => {
    const secret = devJwtSecret(readFileSync('netlify.toml', 'utf8'));
    expect(secret).toBeDefined();
    expect(Buffer.byteLength(secret!)).toBeGreaterThanOrEqual(32);
    expect(devJwtSecret('[build]\n  jwtSecret = "not-this-one"\n[dev]\n  port = 1\n')).toBeUndefined();
    expect(devJwtSecret('[dev]\n  jwtSecret = "this-one"\n[functions]\n  jwtSecret = "x"\n')).toBe('this-one');
  });

  it('seeds the admin once, printing a generated password only the first time', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rolegate-seed-'));
    const env = { ROLEGATE_DATA_DIR: join(dir, 'data') };
    try {
      const first = await seedAdmin(env, 10);
      expect(first.created).toBe(true);
      expect(first.email).toBe('admin@example.com');
      expect(first.generatedPassword).toMatch(/^[\w-]{16}$/);
      const second = await seedAdmin(env, 10);
      expect(second).toEqual({ email: 'admin@example.com', created: false });

      const store = await openEmbeddedStore({ dataDir: env.ROLEGATE_DATA_DIR });
      const admin = await store.findUserForLogin('admin@example.com');
      await store.close();
      expect(admin?.roles).toEqual(['admin']);
      expect(await verifyPassword(first.generatedPassword!, admin!.passwordHash!)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('uses ADMIN_EMAIL and ADMIN_PASSWORD when given, and refuses a weak password', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rolegate-seed-'));
    try {
      const env = { ROLEGATE_DATA_DIR: join(dir, 'data'), ADMIN_EMAIL: ' Ops@Example.com ', ADMIN_PASSWORD: 'short' };
      await expect(seedAdmin(env, 10)).rejects.toThrow('ADMIN_PASSWORD must be at least 8 characters');
      const ok = await seedAdmin({ ...env, ADMIN_PASSWORD: 'a long enough passphrase' }, 10);
      expect(ok).toEqual({ email: 'ops@example.com', created: true, generatedPassword: undefined });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('closes the shared database when netlify dev exits, before exiting with its code: no share file, no lock, and the data kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rolegate-dev-exit-'));
    const dataDir = join(dir, 'data');
    try {
      const shared = await openSharedEmbeddedStore(dataDir);
      await seedAdmin({ ROLEGATE_DATA_DIR: dataDir, ADMIN_PASSWORD: 'a long enough passphrase' }, 10);
      expect(existsSync(shareFilePath(dataDir))).toBe(true);
      expect(existsSync(`${dataDir}.lock`)).toBe(true);

      const netlifyDev = new EventEmitter() as ChildProcess;
      let frontClosed!: () => void;
      const closed = new Promise<void>((resolve) => (frontClosed = resolve));
      const exited = new Promise<number>((resolve) => exitWithNetlifyDev({ netlifyDev, closed }, shared, resolve));
      netlifyDev.emit('exit', 3, null);
      // The front server closes first; until then the database stays shared.
      await new Promise((resolve) => setImmediate(resolve));
      expect(existsSync(shareFilePath(dataDir))).toBe(true);
      frontClosed();
      expect(await exited).toBe(3);
      expect(existsSync(shareFilePath(dataDir))).toBe(false);
      expect(existsSync(`${dataDir}.lock`)).toBe(false);

      const store = await openEmbeddedStore({ dataDir });
      expect((await store.findUserForLogin('admin@example.com'))?.roles).toEqual(['admin']);
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('builds an edge-mode site\'s gates as a deploy does: the generated edge gate, and no Role= rule for netlify dev\'s matcher', async () => {
    const root = mkdtempSync(join(tmpdir(), 'rolegate-dev-edge-'));
    try {
      mkdirSync(join(root, 'public'));
      writeFileSync(join(root, 'rolegate.config.json'), JSON.stringify({ mode: 'edge', gates: [{ path: '/admin/*', roles: ['admin'] }] }));
      const edge = await buildLocalGates(root);
      expect(edge.mode).toBe('edge');
      expect(readFileSync(join(root, 'public', '_redirects'), 'utf8')).not.toMatch(/Role=/);
      const entry = readFileSync(join(root, 'netlify', 'edge-functions', 'rolegate-gate', 'rolegate-gate.js'), 'utf8');
      expect(entry).toContain('createEdgeGate');
      expect(entry).toContain('"/admin/*"');
      expect(readFileSync(join(root, 'netlify', 'edge-functions', 'rolegate-gate', 'runtime.js'), 'utf8')).toBe(readFileSync('dist/edge-gate.js', 'utf8'));

      writeFileSync(join(root, 'rolegate.config.json'), JSON.stringify({ mode: 'redirects', gates: [{ path: '/admin/*', roles: ['admin'] }] }));
      expect((await buildLocalGates(root)).mode).toBe('redirects');
      expect(readFileSync(join(root, 'public', '_redirects'), 'utf8')).toMatch(/^\/admin\/\*\s+\/admin\/:splat\s+200!\s+Role=admin$/m);
      expect(existsSync(join(root, 'netlify', 'edge-functions', 'rolegate-gate'))).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
