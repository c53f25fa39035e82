// `npm run bench`: bundles bench/main.ts with esbuild (dependencies external)
// and runs it with plain Node, so the numbers are those of the code as shipped
// rather than of a TypeScript loader.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'rolegate-bench-'));
try {
  const outfile = join(process.cwd(), 'bench', '.main.bundle.mjs');
  await build({ entryPoints: ['bench/main.ts'], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node22', packages: 'external', logLevel: 'warning' });
  const result = spawnSync(process.execPath, ['--expose-gc', outfile, ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, ROLEGATE_BENCH_TMP: dir } });
  rmSync(outfile, { force: true });
  process.exitCode = result.status ?? 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
