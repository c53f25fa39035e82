/**
 * The gates of the local site, built by the deploy's own build command (`rolegate gates build`,
 * run in-process), so that local development enforces the very files a deploy ships: the
 * `_redirects` block and, in edge mode, netlify/edge-functions/rolegate-gate/ with its compiled
 * gate table. netlify dev does not run the build command itself.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Env } from '../core/environment.js';
import { runCli } from '../cli/main.js';
import type { CliIo } from '../cli/io.js';
import { loadGateConfig } from '../gates/compile.js';
import type { GateConfig } from '../site-config/schema.js';
import { EDGE_FUNCTIONS_DIR, EDGE_GATE_NAME } from '../gates/edge-build.js';
import type { LocalEdgeGate } from './front-server.js';

export interface LocalGates {
  mode: GateConfig['mode'];
  /** What the build printed, line by line (warnings included). */
  lines: string[];
}

/** Runs `rolegate gates build` in `root`; throws with its message when it fails. */
export async function buildLocalGates(root: string, dataDir?: string): Promise<LocalGates> {
  let out = '';
  const io: CliIo = {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (out += text) },
    readStdin: async () => '',
    stdinIsTTY: false,
    // The embedded database in use, which the build refuses to see inside the publish directory.
    env: dataDir ? { ROLEGATE_DATA_DIR: dataDir } : {},
    cwd: root,
  };
  const code = await runCli(['gates', 'build'], io);
  if (code !== 0) throw new Error(`rolegate gates build failed:\n${out}`);
  const { config } = loadGateConfig(readFileSync(join(root, 'rolegate.config.json'), 'utf8'));
  const lines = out.split('\n').filter(Boolean);
  if (config.mode === 'edge') lines.push('mode "edge": the local server on 127.0.0.1 runs the generated edge gate in front of netlify dev');
  return { mode: config.mode, lines };
}

interface NetlifyGlobal {
  Netlify?: { env: { toObject(): Record<string, string> } };
}

/**
 * Imports the generated edge function from `root`. Its runtime reads the environment through
 * Netlify's `Netlify.env` global (https://docs.netlify.com/edge-functions/api/#netlify-global-object),
 * which is given here the environment the local functions get, so both verify with the same secret.
 */
export async function loadLocalEdgeGate(root: string, env: Env): Promise<LocalEdgeGate> {
  const values = Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
  (globalThis as NetlifyGlobal).Netlify = { env: { toObject: () => ({ ...values }) } };
  const entry = pathToFileURL(join(root, EDGE_FUNCTIONS_DIR, EDGE_GATE_NAME, `${EDGE_GATE_NAME}.js`));
  // The query makes a rebuilt gate load afresh rather than from the module cache.
  entry.search = `?loaded=${Date.now()}`;
  const module = (await import(entry.href)) as { default?: unknown };
  if (typeof module.default !== 'function') throw new Error(`${entry.pathname} has no default export: rebuild it with rolegate gates build`);
  return module.default as LocalEdgeGate;
}
