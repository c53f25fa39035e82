import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rolegate } from './fake-io.js';

const ours = join(import.meta.dirname, '..', '..', 'supabase', 'migrations');

describe('rolegate db copy-migrations', () => {
  let site: string;
  beforeEach(async () => {
    site = await mkdtemp(join(tmpdir(), 'rolegate-copy-migrations-'));
  });
  afterEach(async () => {
    await rm(site, { recursive: true, force: true });
  });

  it('copies every migration into the site\'s supabase/migrations beside its own, and a second run changes nothing', async () => {
    await mkdir(join(site, 'supabase', 'migrations'), { recursive: true });
    await writeFile(join(site, 'supabase', 'migrations', '20240101000000_site_own.sql'), 'create table notes (id int);\n');
    const first = await rolegate(['db', 'copy-migrations'], { cwd: site });
    expect(first.code).toBe(0);
    const expected = (await readdir(ours)).filter((f) => f.endsWith('.sql')).sort();
    expect(expected.length).toBeGreaterThan(0);
    const copied = await readdir(join(site, 'supabase', 'migrations'));
    expect(copied.sort()).toEqual(['20240101000000_site_own.sql', ...expected].sort());
    for (const file of expected) expect(await readFile(join(site, 'supabase', 'migrations', file), 'utf8')).toBe(await readFile(join(ours, file), 'utf8'));
    expect(first.stdout).toContain(`copied ${expected.length} migrations`);
    expect(first.stdout).toContain('supabase db push');

    const second = await rolegate(['db', 'copy-migrations'], { cwd: site });
    expect(second).toMatchObject({ code: 0, stdout: expect.stringContaining('already has') });
  });

  it('writes to --to, creating it', async () => {
    const result = await rolegate(['db', 'copy-migrations', '--to', 'db/sql'], { cwd: site });
    expect(result.code).toBe(0);
    expect((await readdir(join(site, 'db', 'sql'))).length).toBe((await readdir(ours)).filter((f) => f.endsWith('.sql')).length);
  });

  it('stops before writing anything when a file of the same name holds other SQL', async () => {
    const target = join(site, 'supabase', 'migrations');
    await mkdir(target, { recursive: true });
    const [, second] = (await readdir(ours)).filter((f) => f.endsWith('.sql')).sort();
    await writeFile(join(target, second!), '-- edited by hand\n');
    const result = await rolegate(['db', 'copy-migrations'], { cwd: site });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/exists with other content; nothing was copied/);
    expect(await readdir(target)).toEqual([second]);
    expect(await readFile(join(target, second!), 'utf8')).toBe('-- edited by hand\n');
  });

  it('refuses an unknown option with a pointer to the help', async () => {
    const result = await rolegate(['db', 'copy-migrations', '--into', 'x'], { cwd: site });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('rolegate db help');
    expect(await readdir(site)).toEqual([]);
  });
});
