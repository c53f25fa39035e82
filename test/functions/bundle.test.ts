/**
 * What a bundler puts inside the functions that reach the database on every
 * site (login, refresh, signup): esbuild takes every package it can follow, as
 * Netlify's does when a site lists no externals. PGlite (local only, and unable
 * to run from a bundle) and supabase-js's auth, realtime and storage clients
 * must not be among them; with netlify.toml's externals, nothing but
 * rolegate's own code, jose and cookie stays inside.
 */
import { build, type Metafile } from 'esbuild';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generatedFunctionSource } from '../../src/gates/functions-build.js';
import { EXTERNAL_NODE_MODULES } from '../../src/init/netlify-toml-merge.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const config = JSON.parse(readFileSync(new URL('../../rolegate.config.json', import.meta.url), 'utf8')) as unknown;

async function bundledPackages(name: string, external: string[]): Promise<{ packages: Set<string>; imports: Set<string> }> {
  const result = await build({
    stdin: { contents: generatedFunctionSource(name, config), resolveDir: root, loader: 'js', sourcefile: `${name}.mjs` },
    bundle: true, platform: 'node', format: 'cjs', target: 'node22', write: false, metafile: true, external, logLevel: 'silent',
  });
  const metafile: Metafile = result.metafile;
  const packages = new Set(Object.keys(metafile.inputs).flatMap((path) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1] ?? []));
  const imports = new Set(Object.values(metafile.outputs).flatMap((output) => output.imports.filter((i) => i.external).map((i) => i.path)));
  return { packages, imports };
}

describe('a generated function, bundled', () => {
  for (const name of ['login', 'refresh', 'signup']) {
    it(`${name}: with every package inside, holds neither PGlite nor supabase-js's auth, realtime and storage clients`, async () => {
      const { packages } = await bundledPackages(name, []);
      expect(packages.has('pg')).toBe(true);
      for (const absent of ['@electric-sql/pglite', '@supabase/supabase-js', '@supabase/auth-js', '@supabase/realtime-js', '@supabase/storage-js']) {
        expect(packages.has(absent), absent).toBe(false);
      }
    });

    it(`${name}: with netlify.toml's externals beside it, holds only jose and cookie of its packages`, async () => {
      const { packages, imports } = await bundledPackages(name, [...EXTERNAL_NODE_MODULES]);
      expect([...packages].filter((p) => p !== 'jose' && p !== 'cookie')).toEqual([]);
      // Every package left outside is one the externals name, so Netlify ships it beside the bundle.
      const outside = [...imports].filter((path) => !path.startsWith('node:') && !path.startsWith('.'));
      expect(outside.length).toBeGreaterThan(0);
      for (const path of outside) expect(EXTERNAL_NODE_MODULES.some((m) => path === m || path.startsWith(`${m}/`)), path).toBe(true);
    });
  }

  it("netlify.toml's externals are the list rolegate init writes", () => {
    const toml = readFileSync(new URL('../../netlify.toml', import.meta.url), 'utf8');
    const listed = /^\s*external_node_modules\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1];
    expect([...(listed ?? '').matchAll(/"([^"]+)"/g)].map((m) => m[1])).toEqual([...EXTERNAL_NODE_MODULES]);
  });
});
