import type { Metafile } from 'esbuild';

/** Bundles src/edge/entry.ts to `outfile`; returns esbuild's metafile. */
export function bundleEdgeRuntime(outfile: string): Promise<Metafile>;
