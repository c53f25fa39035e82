// Bundles the command-line entry points into dist/ so they run on plain Node
// without a TypeScript loader: the package's entry (`import … from 'rolegate'`), the
// `rolegate` CLI and the `npm start` script.
// Dependencies stay external (they are installed anyway). Netlify bundles the
// functions itself (netlify.toml: node_bundler = "esbuild").
import { build } from 'esbuild';
import { existsSync, readdirSync } from 'node:fs';
import { bundleEdgeRuntime } from './edge-bundle.mjs';

// dev-loopback is the preload `npm start` gives netlify dev (src/dev/loopback-preload.ts).
const entries = { index: 'src/index.ts', cli: 'src/cli/main.ts', 'dev-loopback': 'src/dev/loopback-preload.ts', 'netlify-plugin': 'src/plugin/netlify-plugin.ts' };
// The ready function handlers, one package subpath each (`rolegate/functions/login`), which
// the functions `rolegate gates build` generates import (src/gates/functions-build.ts).
for (const file of readdirSync('src/functions')) {
  if (file.endsWith('.ts') && file !== 'prebuilt.ts') entries[`functions/${file.slice(0, -3)}`] = `src/functions/${file}`;
}
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
        target: 'node22',
        packages: 'external',
        sourcemap: 'linked',
        logLevel: 'warning',
      }),
    ),
);

// The edge gate's runtime (mode "edge"), which `rolegate gates build` copies next to the
// generated edge function; see scripts/edge-bundle.mjs.
await bundleEdgeRuntime('dist/edge-gate.js');
