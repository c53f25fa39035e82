// Bundles the command-line entry points into dist/ so they run on plain Node
// without a TypeScript loader: the `rolegate` CLI and the `npm start` script.
// Dependencies stay external (they are installed anyway). Netlify bundles the
// functions itself (netlify.toml: node_bundler = "esbuild").
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { bundleEdgeRuntime } from './edge-bundle.mjs';

const entries = { cli: 'src/cli/main.ts', dev: 'src/dev/start.ts' };
await Promise.all(
  Object.entries(entries)
    .filter(([, file]) => existsSync(file))
    .map(([name, file]) =>
      build({
        entryPoints: [file],
        outfile: `dist/${name}.js`,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        packages: 'external',
        sourcemap: 'linked',
        logLevel: 'warning',
      }),
    ),
);

// The edge gate's runtime (see scripts/edge-bundle.mjs).
if (existsSync('src/edge/entry.ts')) await bundleEdgeRuntime('dist/edge-gate.js');
