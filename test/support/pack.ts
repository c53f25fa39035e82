/**
 * rolegate as a site gets it: `npm pack` of a copy of this checkout (tracked and new files,
 * nothing ignored, its own dist/ so the suite's other builds are untouched), and `npm install`
 * of that tarball into a folder, from the npm cache where it can.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

export interface Packed {
  tarball: string;
  files: { path: string }[];
}

export function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 240_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Packs the checkout into `work`. */
export function packRolegate(work: string): Packed {
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
  const [result] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  return { tarball: join(work, result!.filename), files: result!.files };
}

/** `npm install <tarball>` in `site`, which needs a package.json (one is written when it has none). */
export function installTarball(site: string, tarball: string): void {
  const install = run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel', 'error', tarball], site);
  if (install.code !== 0) throw new Error(`npm install of the tarball failed:\n${install.stderr}`);
}
