/**
 * The package as a site installs it: `npm pack` of a copy of this checkout,
 * then `npm install` of that tarball into a fresh folder that has never seen
 * rolegate's sources, and the public entry points used from there.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

interface PackResult {
  filename: string;
  files: { path: string }[];
}

function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 240_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('the npm package', () => {
  let work: string;
  let site: string;
  let packed: PackResult;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'rolegate-pack-'));
    // A copy of the working tree without ignored files (its own dist/, so the suite's other builds are untouched).
    const checkout = join(work, 'checkout');
    const tracked = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
      .split('\0').filter((file) => file && existsSync(join(ROOT, file)));
    for (const file of tracked) {
      mkdirSync(dirname(join(checkout, file)), { recursive: true });
      cpSync(join(ROOT, file), join(checkout, file));
    }
    symlinkSync(join(ROOT, 'node_modules'), join(checkout, 'node_modules'));
    const pack = run('npm', ['pack', '--json', '--pack-destination', work], checkout);
    if (pack.code !== 0) throw new Error(`npm pack failed:\n${pack.stderr}`);
    packed = (JSON.parse(pack.stdout) as PackResult[])[0]!;

    site = join(work, 'site');
    mkdirSync(site);
    writeFileSync(join(site, 'package.json'), JSON.stringify({ name: 'some-site', private: true, type: 'module' }));
    const install = run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel', 'error', join(work, packed.filename)], site);
    if (install.code !== 0) throw new Error(`npm install of the tarball failed:\n${install.stderr}`);
  }, 300_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ships built code, types, the CLI and the migrations, and none of the sources, tests or site files', () => {
    const paths = packed.files.map((f) => f.path);
    for (const needed of ['bin/rolegate.js', 'dist/index.js', 'dist/types/index.d.ts', 'dist/cli.js', 'dist/edge-gate.js', 'public/rolegate.js', 'public/rolegate.d.ts', 'package.json']) {
      expect(paths, needed).toContain(needed);
    }
    expect(paths.filter((p) => p.startsWith('supabase/migrations/') && p.endsWith('.sql')).length).toBe(readdirSync(join(ROOT, 'supabase', 'migrations')).filter((f) => f.endsWith('.sql')).length);
    const unwanted = paths.filter((p) => /^(src|test|bench|netlify|scripts|\.rolegate|\.netlify|node_modules)\//.test(p)
      || /(^|\/)\.env|\.map$|^netlify\.toml$|^rolegate\.config\.json$|^public\/(?!rolegate\.)/.test(p));
    expect(unwanted).toEqual([]);
  });

  it('installs with its runtime dependencies only', () => {
    const installed = readdirSync(join(site, 'node_modules'));
    expect(installed).toContain('rolegate');
    for (const devOnly of ['netlify-cli', 'vitest', 'typescript', 'esbuild', 'playwright-core', 'deno']) expect(installed, devOnly).not.toContain(devOnly);
  });

  it('resolves `rolegate` to requireRole, which answers a request without a token 401', () => {
    const script = `
      import { requireRole } from 'rolegate';
      const result = await requireRole({ httpMethod: 'GET', path: '/.netlify/functions/mine', headers: {} }, { roles: ['admin'] });
      process.stdout.write(JSON.stringify({ ok: result.ok, status: result.ok ? 0 : result.response.statusCode, body: result.ok ? null : JSON.parse(result.response.body) }));
      const browser = import.meta.resolve('rolegate/browser');
      process.stdout.write('\\n' + browser);`;
    const result = run(process.execPath, ['--input-type=module', '-e', script], site, { JWT_SECRET: 'a-site-secret-that-is-long-enough-0123456789' });
    expect(result.stderr).toBe('');
    const [answer, browser] = result.stdout.split('\n');
    expect(JSON.parse(answer!)).toEqual({ ok: false, status: 401, body: { error: { code: 'unauthenticated', message: expect.any(String) } } });
    expect(browser).toBe(`file://${join(site, 'node_modules', 'rolegate', 'public', 'rolegate.js')}`);
  });

  it('types `rolegate` for a TypeScript site', () => {
    writeFileSync(join(site, 'check.ts'), [
      "import { requireRole, type RequireRoleResult } from 'rolegate';",
      "export async function handler(event: Parameters<typeof requireRole>[0]): Promise<number> {",
      "  const auth: RequireRoleResult = await requireRole(event, { roles: ['admin'] });",
      '  return auth.ok ? 200 : auth.response.statusCode;',
      '}',
      '',
    ].join('\n'));
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = run(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--skipLibCheck', 'check.ts'], site);
    expect(result.stdout + result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('runs the CLI from the install, applying the migrations inside the package and never the site\'s own', () => {
    // The site keeps SQL of its own where the Supabase CLI wants it; rolegate must not run it.
    mkdirSync(join(site, 'supabase', 'migrations'), { recursive: true });
    writeFileSync(join(site, 'supabase', 'migrations', '20240101000000_site_own.sql'), 'this is the site\'s own SQL, not rolegate\'s;\n');
    const env = { ROLEGATE_DATA_DIR: join(work, 'data') };
    const migrate = run(process.execPath, [join(site, 'node_modules', '.bin', 'rolegate'), 'db', 'migrate'], site, env);
    expect(migrate.stderr).toBe('');
    expect(migrate.stdout).toContain('is up to date');
    const copy = run(process.execPath, [join(site, 'node_modules', '.bin', 'rolegate'), 'db', 'copy-migrations'], site);
    expect(copy.code).toBe(0);
    const ours = readdirSync(join(ROOT, 'supabase', 'migrations')).filter((f) => f.endsWith('.sql'));
    expect(readdirSync(join(site, 'supabase', 'migrations')).sort()).toEqual(['20240101000000_site_own.sql', ...ours].sort());
  });
});
