import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedStore } from '../../src/store/embedded.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bundle = join(root, 'dist', 'cli.js');

async function newestSource(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? await newestSource(path) : (await stat(path)).mtimeMs);
  }
  return newest;
}

/** Builds dist/cli.js unless it is newer than every file in src/. */
async function ensureBuilt(): Promise<void> {
  const built = await stat(bundle).then((s) => s.mtimeMs, () => 0);
  if (built > (await newestSource(join(root, 'src')))) return;
  const result = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`npm run build failed:\n${result.stderr}`);
}

function runBin(args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'bin', 'rolegate.js'), ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let site: string;
beforeAll(async () => {
  await ensureBuilt();
  site = await mkdtemp(join(tmpdir(), 'rolegate-cli-bin-'));
});
afterAll(async () => {
  await rm(site, { recursive: true, force: true });
});

describe('the installed rolegate command (bin/rolegate.js → dist/cli.js)', () => {
  it('prints its version', async () => {
    const result = await runBin(['--version'], {}, site);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('refuses to open an embedded database another process holds, then works once it is released', async () => {
    const dataDir = join(site, 'data');
    const store = await openEmbeddedStore({ dataDir });
    let released = false;
    try {
      const blocked = await runBin(['users', 'list'], { ROLEGATE_DATA_DIR: dataDir }, site);
      expect(blocked.code).not.toBe(0);
      expect(blocked.stdout).toBe('');
      expect(blocked.stderr).toMatch(new RegExp(`^rolegate: the embedded database in ${dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use by process ${process.pid} \\(`));
      expect(blocked.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(blocked.stderr).not.toMatch(/\n\s+at /);
      await store.close();
      released = true;
      const after = await runBin(['users', 'list'], { ROLEGATE_DATA_DIR: dataDir }, site);
      expect(after).toMatchObject({ code: 0, stderr: '', stdout: 'no users yet (add one with: rolegate users add --email E)\n' });
    } finally {
      if (!released) await store.close();
    }
  });
});
