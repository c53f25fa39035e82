/**
 * The package as a site installs it: `npm pack` of a copy of this checkout,
 * then `npm install` of that tarball into a fresh folder that has never seen
 * rolegate's sources, and the public entry points used from there.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installTarball, packRolegate, run, type Packed } from '../support/pack.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('the npm package', () => {
  let work: string;
  let site: string;
  let packed: Packed;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'rolegate-pack-'));
    packed = packRolegate(work);
    site = join(work, 'site');
    mkdirSync(site);
    writeFileSync(join(site, 'package.json'), JSON.stringify({ name: 'some-site', private: true, type: 'module' }));
    installTarball(site, packed.tarball);
  }, 300_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ships built code, types, the CLI and the migrations, and none of the sources, tests or site files', () => {
    const paths = packed.files.map((f) => f.path);
    for (const needed of ['bin/rolegate.js', 'dist/index.js', 'dist/types/index.d.ts', 'dist/cli.js', 'dist/edge-gate.js', 'public/rolegate.js', 'public/rolegate.d.ts', 'package.json',
      'dist/functions/login.js', 'dist/types/functions/login.d.ts', 'dist/netlify-plugin.js', 'manifest.yml', 'templates/pages/login.html']) {
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

  it('resolves one subpath per ready function handler, each making a handler from a compiled table', () => {
    const script = `
      const names = ['login', 'logout', 'refresh', 'recover', 'verify', 'mail-background', 'mail-scheduled', 'identity-login', 'identity-signup', 'identity-validate', 'identity-webhook', 'identity-sync-background'];
      const kinds = [];
      for (const name of names) kinds.push(typeof (await import('rolegate/functions/' + name)).handlerFor);
      process.stdout.write(kinds.join(','));`;
    const result = run(process.execPath, ['--input-type=module', '-e', script], site);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(Array(12).fill('function').join(','));
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
