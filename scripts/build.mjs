// Bundles the command-line entry points into dist/ so they run on plain Node
// without a TypeScript loader: the package's entry (`import … from 'rolegate'`), the
// `rolegate` CLI and the `npm start` script.
// Dependencies stay external (they are installed anyway). Netlify bundles the
// functions itself (netlify.toml: node_bundler = "esbuild").
//
// Then compiles rolegate.config.json into netlify/gate-table.json, the gate
// table the auth functions import instead of validating the config at every
// cold start (src/auth/prebuilt-gates.ts says why and how staleness is caught).
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { bundleEdgeRuntime } from './edge-bundle.mjs';

// dev-loopback is the preload `npm start` gives netlify dev (src/dev/loopback-preload.ts).
const entries = { index: 'src/index.ts', cli: 'src/cli/main.ts', 'dev-loopback': 'src/dev/loopback-preload.ts', 'gate-table': 'src/auth/gate-table-file.ts' };
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

const { writePrebuiltGateTable } = await import('../dist/gate-table.js');
await writePrebuiltGateTable('rolegate.config.json', 'netlify/gate-table.json');

// The edge gate's runtime (mode "edge"), which `rolegate gates build` copies next to the
// generated edge function; see scripts/edge-bundle.mjs.
await bundleEdgeRuntime('dist/edge-gate.js');
