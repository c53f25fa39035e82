// The edge gate's runtime: one self-contained ES module (jose, zod, cookie and postgrest-js
// included) for Netlify's Deno-based edge, which has no node_modules. `rolegate gates build`
// copies it next to the generated edge function. Only `node:` built-ins stay imports: the
// edge runtime provides them (@netlify/edge-bundler leaves them alone too). Used by
// scripts/build.mjs and by the edge tests, which bundle into a temporary directory.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

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
    minify: true,
    legalComments: 'inline',
    metafile: true,
    logLevel: 'warning',
  });
  return result.metafile;
}
