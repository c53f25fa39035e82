import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freeLoopbackPort } from '../../src/dev/netlify-dev-process.js';
import { rolegate } from './fake-io.js';

// Each case fails before anything starts; test/integration/dev-start.test.ts runs the real thing.
describe('rolegate dev, refusing to start', () => {
  let folder: string;
  beforeEach(async () => {
    folder = await mkdtemp(join(tmpdir(), 'rolegate-dev-cli-'));
  });
  afterEach(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('says so, before starting anything, when the port is taken', async () => {
    const port = await freeLoopbackPort();
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve));
    try {
      const result = await rolegate(['dev', '--port', String(port)], { cwd: folder });
      expect(result).toMatchObject({ code: 1, stdout: '' });
      expect(result.stderr).toBe(`rolegate: port ${port} on 127.0.0.1 is in use (another rolegate dev or npm start?); stop it, or choose another with --port N\n`);
      expect(await readdir(folder)).toEqual([]);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it.each([['--port', 'eighty'], ['--port', '70000'], ['--port', '0']])('refuses %s %s with one line', async (flag, value) => {
    const result = await rolegate(['dev', flag, value], { cwd: folder });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`rolegate: --port must be a port number (got "${value}")\n`);
  });

  it('refuses an unknown option with the usage', async () => {
    const result = await rolegate(['dev', '--host', '0.0.0.0'], { cwd: folder });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^rolegate: .*--host.*\(usage: rolegate dev \[--port N\]\)\n$/);
  });

  it('says where to run it when the folder is not a site', async () => {
    const result = await rolegate(['dev', '--port', String(await freeLoopbackPort())], { cwd: folder });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`rolegate: no netlify.toml in ${folder}: run rolegate dev in the site's folder\n`);
    expect(await readdir(folder)).toEqual([]);
  });

  it('is in the help', async () => {
    expect((await rolegate(['help'])).stdout).toContain('rolegate dev [--port N]');
  });
});
