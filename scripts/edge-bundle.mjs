// The edge gate's runtime: one self-contained ES module (jose, cookie and postgrest-js
// included) for Netlify's Deno-based edge, which has no node_modules. `rolegate gates build`
// copies it next to the generated edge function. Only `node:` built-ins stay imports: the
// edge runtime provides them (@netlify/edge-bundler leaves them alone too). Used by
// scripts/build.mjs and by the edge tests, which bundle into a temporary directory.
import { build } from 'esbuild';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

// src/core/node-crypto.ts loads node:crypto on first use through
// process.getBuiltinModule, for the Node functions' cold start; the edge gets
// a plain import instead (src/edge/node-crypto.ts says why).
const edgeNodeCrypto = {
  name: 'edge-node-crypto',
  setup(build) {
    const lazy = join(root, 'src/core/node-crypto.js');
    build.onResolve({ filter: /node-crypto\.js$/ }, (args) =>
      join(args.resolveDir, args.path) === lazy ? { path: join(root, 'src/edge/node-crypto.ts') } : undefined);
  },
};

/** Bundles src/edge/entry.ts to `outfile`; returns esbuild's metafile. */
export async function bundleEdgeRuntime(outfile) {
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['src/edge/entry.ts'],
    outfile,
    bundle: true,
    platform: 'neutral',
    format: 'esm',
    target: 'es2022',
    mainFields: ['module', 'main'],
    conditions: ['worker', 'import'],
    external: ['node:*'],
    inject: ['src/edge/buffer-shim.ts'],
    plugins: [edgeNodeCrypto],
    minify: true,
    legalComments: 'inline',
    metafile: true,
    logLevel: 'warning',
  });
  return result.metafile;
}
