/**
 * rolegate as a Netlify build plugin (`[[plugins]] package = "rolegate"`, the package's `main`
 * with manifest.yml beside it). Before the build it checks the environment; after the site's
 * own build command it runs `rolegate gates build`, so the gates, the edge function and the
 * generated functions exist before Netlify bundles functions and edge functions.
 */
import { resolve } from 'node:path';
import { runCli } from '../cli/main.js';
import type { CliIo } from '../cli/io.js';
import { deployEnvironmentProblem } from './deploy-environment.js';
import { readFileSync } from 'node:fs';
import { compileSiteConfig } from '../site-config/compile.js';
import type { ProviderSettings } from '../site-config/provider-settings.js';

interface PluginUtils {
  build: { failBuild(message: string): void };
}

interface PluginOptions {
  utils: PluginUtils;
  constants: { PUBLISH_DIR?: string };
}

export function onPreBuild({ utils }: PluginOptions): void {
  const problem = deployEnvironmentProblem(process.env, configuredProviders(process.cwd()));
  if (problem) utils.build.failBuild(problem);
}

/** The sign-in providers rolegate.config.json names; none when the file is missing or invalid (gates build then says what is wrong). */
function configuredProviders(siteRoot: string): ProviderSettings[] {
  try {
    return compileSiteConfig(JSON.parse(readFileSync(resolve(siteRoot, 'rolegate.config.json'), 'utf8'))).accounts.providers;
  } catch {
    return [];
  }
}

/** The publish directory of rolegate.config.json and Netlify's must be one, or the gates would land beside the site. */
function publishDirMismatch(siteRoot: string, netlifyPublish: string | undefined): string | null {
  if (!netlifyPublish) return null;
  let publishDir: unknown;
  try {
    publishDir = (JSON.parse(readFileSync(resolve(siteRoot, 'rolegate.config.json'), 'utf8')) as { publishDir?: unknown }).publishDir ?? 'public';
  } catch {
    return null; // gates build says what is wrong with the file
  }
  if (typeof publishDir !== 'string' || resolve(siteRoot, publishDir) === resolve(siteRoot, netlifyPublish)) return null;
  return `rolegate.config.json has "publishDir": ${JSON.stringify(publishDir)} but Netlify publishes ${netlifyPublish}: set "publishDir" to the publish directory of netlify.toml`;
}

export async function onBuild({ utils, constants }: PluginOptions): Promise<void> {
  const siteRoot = process.cwd();
  const mismatch = publishDirMismatch(siteRoot, constants.PUBLISH_DIR);
  if (mismatch) return utils.build.failBuild(mismatch);
  let errors = '';
  const io: CliIo = {
    stdout: { write: (text: string) => void process.stdout.write(text) },
    stderr: {
      write: (text: string) => {
        errors += text;
        process.stderr.write(text);
      },
    },
    readStdin: async () => '',
    stdinIsTTY: false,
    env: process.env,
    cwd: siteRoot,
  };
  const code = await runCli(['gates', 'build'], io);
  if (code !== 0) utils.build.failBuild(errors.replace(/^warning: .*\n/gm, '').trim() || 'rolegate gates build failed');
}
