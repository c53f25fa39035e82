import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseNetlifyToml } from '../site/netlify-toml.js';
import type { SiteFacts } from './plan.js';

function readIfExists(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** The publish directory of well-known site generators, found by their package (Netlify's own framework detection uses the same defaults). */
const FRAMEWORK_PUBLISH_DIRS: [string, string][] = [
  ['@11ty/eleventy', '_site'],
  ['astro', 'dist'],
  ['@docusaurus/core', 'build'],
  ['gatsby', 'public'],
  ['vitepress', '.vitepress/dist'],
  ['vite', 'dist'],
];

function frameworkPublishDir(root: string): [string, string] | undefined {
  const pkg = readIfExists(join(root, 'package.json'));
  let deps: Record<string, unknown> = {};
  try {
    const parsed = pkg ? (JSON.parse(pkg) as { dependencies?: Record<string, unknown>; devDependencies?: Record<string, unknown> }) : {};
    deps = { ...parsed.dependencies, ...parsed.devDependencies };
  } catch {
    /* a broken package.json detects nothing */
  }
  const found = FRAMEWORK_PUBLISH_DIRS.find(([name]) => name in deps);
  if (found) return [found[1], `${found[0]}'s default`];
  if (['hugo.toml', 'hugo.yaml', 'hugo.json'].some((f) => existsSync(join(root, f)))) return ['public', "Hugo's default"];
  return undefined;
}

/** Reads what init needs to know about the site in `root`. */
export function readSiteFacts(root: string): SiteFacts {
  const netlifyToml = readIfExists(join(root, 'netlify.toml'));
  const facts = parseNetlifyToml(netlifyToml);
  const framework = frameworkPublishDir(root);
  const [publishDir, publishFrom] = facts.publish
    ? [facts.publish, 'netlify.toml']
    : framework ?? (existsSync(join(root, 'index.html')) ? ['.', 'index.html at the site root'] : ['public', 'the default']);
  return {
    netlifyToml,
    gitignore: readIfExists(join(root, '.gitignore')),
    hasConfig: existsSync(join(root, 'rolegate.config.json')),
    publishDir,
    publishFrom,
    generatesPublishDir: Boolean(facts.command) || Boolean(framework),
    pageExists: (path) => {
      const full = join(root, path);
      return existsSync(full) && statSync(full).isFile();
    },
  };
}
