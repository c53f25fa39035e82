import { access, mkdir, readFile, rename, writeFile, rm } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { compileGates } from './compile.js';
import { parsePathPattern } from './path-pattern.js';
import type { GateConfig } from '../site-config/schema.js';
import { findShadowingRules, RedirectsFileError, splitAtMarkers, spliceRedirects } from './redirects-file.js';
import { assertPublishDirServesNoSecrets, missingPageWarnings, REDIRECTS_MODE_WARNING } from './publish-dir.js';

export interface BuildRedirectsOptions {
  /** The site root: where `rolegate.config.json` and the hand-written `_redirects` live. */
  siteRoot: string;
  config: GateConfig;
  /** The embedded database's directory (ROLEGATE_DATA_DIR), which the publish directory must not hold. */
  dataDir?: string;
}

export interface BuildRedirectsResult {
  /** Absolute path of the written `<publishDir>/_redirects`. */
  outputPath: string;
  /** The hand-written file the rules were kept from, or null when there was none. */
  sourcePath: string | null;
  /** False when the file already had exactly this content (nothing was written). */
  changed: boolean;
  ruleCount: number;
  warnings: string[];
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * Files Netlify also serves under a URL the gate does not cover ("pretty URLs"): `/admin.html`
 * next to the gate `/admin/*`, which serves it at `/admin` too. The gate only sees the URL, so
 * such a file is public under its own name. (An exact gate covers every URL of its page: the
 * compiler adds them, see `prettyUrlAliases`.)
 */
async function ungatedAliases(publishDir: string, gatePaths: readonly string[]): Promise<string[]> {
  const warnings: string[] = [];
  for (const gatePath of gatePaths) {
    const pattern = parsePathPattern(gatePath);
    if (pattern.kind !== 'splat') continue;
    const stem = pattern.prefix;
    if (stem === '' || /\.[A-Za-z0-9]+$/.test(stem)) continue;
    for (const alias of [`${stem}.html`, `${stem}.htm`]) {
      if (await exists(join(publishDir, ...alias.split('/')))) {
        warnings.push(`${alias} exists in the publish directory and is served at ${alias}, which the gate "${gatePath}" does not cover; move it or gate that path too`);
      }
    }
  }
  return warnings;
}

/**
 * Writes `<publishDir>/_redirects`: the site's hand-written rules (from `<siteRoot>/_redirects`,
 * else from the existing output file) kept in their place, with the generated rolegate block
 * at the markers or on top. Idempotent. Refuses, writing nothing, when the publish directory
 * would serve secrets (src/gates/publish-dir.ts), when a hand-written rule
 * before the block would decide requests for a gated path, or when the markers are malformed.
 * The file is replaced atomically, so a failed build never leaves half a file behind.
 *
 * @example
 * const { outputPath } = await buildRedirects({ siteRoot: process.cwd(), config: parseGateConfig(json) });
 */
export async function buildRedirects(options: BuildRedirectsOptions): Promise<BuildRedirectsResult> {
  const siteRoot = resolve(options.siteRoot);
  assertPublishDirServesNoSecrets(siteRoot, options.config, options.dataDir);
  const compiled = compileGates(options.config);
  const publishDir = resolve(siteRoot, options.config.publishDir);
  const outputPath = join(publishDir, '_redirects');
  const rootSourcePath = join(siteRoot, '_redirects');

  const rootSource = await readIfExists(rootSourcePath);
  const existingOutput = await readIfExists(outputPath);
  const sourcePath = rootSource !== null ? rootSourcePath : existingOutput !== null ? outputPath : null;
  const sourceText = rootSource ?? existingOutput ?? '';
  const sourceLabel = sourcePath ? relative(siteRoot, sourcePath) || '_redirects' : '_redirects';

  const handWritten = splitAtMarkers(sourceText, sourceLabel);
  const gatePaths = compiled.table.rules.filter((r) => r.access === 'roles').map((r) => r.from);
  const shadowing = findShadowingRules(handWritten.before, gatePaths);
  if (shadowing.length) {
    const details = shadowing.map((s) => `  ${sourceLabel}:${s.line} "${s.text}" matches paths of the gate "${s.gate}"`).join('\n');
    throw new RedirectsFileError(
      `refusing to build: hand-written rules placed before the rolegate block would decide requests for gated paths before the gate does:\n${details}\nmove them below the "# rolegate:end" line, or drop the markers so the block goes on top`,
    );
  }

  const output = spliceRedirects(handWritten, compiled.rules);
  // Self-check: the result must split back into the same parts, or we would write a file the
  // next build cannot read.
  const reread = splitAtMarkers(output, 'generated _redirects');
  if (reread.before.length !== handWritten.before.length) throw new Error('rolegate: generated _redirects failed its self-check');

  const warnings = [
    ...(options.config.mode === 'redirects' ? [REDIRECTS_MODE_WARNING] : []),
    ...compiled.warnings,
    ...(await ungatedAliases(publishDir, gatePaths)),
    ...missingPageWarnings(siteRoot, options.config),
  ];
  const result = { outputPath, sourcePath, ruleCount: compiled.rules.filter((l) => !l.startsWith('#')).length, warnings };
  if (existingOutput === output) return { ...result, changed: false };
  await mkdir(publishDir, { recursive: true });
  const temporaryPath = `${outputPath}.rolegate-${process.pid}.tmp`;
  try {
    await writeFile(temporaryPath, output, 'utf8');
    await rename(temporaryPath, outputPath);
  } catch (error) {
    await rm(temporaryPath, { force: true });
    throw error;
  }
  return { ...result, changed: true };
}
