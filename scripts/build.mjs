// Bundles the CLI into dist/cli.js so `rolegate` runs on plain Node without a
// TypeScript loader. Dependencies stay external (they are installed anyway);
// only the project's own modules are bundled. Netlify bundles the functions
// itself (netlify.toml: node_bundler = "esbuild"), so they are not built here.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';

if (!existsSync('src/cli/main.ts')) process.exit(0);
await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/cli.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
});
