/**
 * Starts `netlify dev --offline` for local development, bound to loopback. netlify-cli has no
 * host flag and listens on every interface, so the loopback preload (src/dev/loopback-preload.ts)
 * is given to it, and to every Node process it starts, through NODE_OPTIONS; a patch to
 * netlify-cli's files would be lost on every install, and a firewall rule is not ours to set.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FRONT_SECRET_ENV, GUARDED_PORT_ENV } from './front-only-guard.js';
import { LOOPBACK_HOST } from './loopback-listen.js';

export interface NetlifyDevProcessOptions {
  root: string;
  env: NodeJS.ProcessEnv;
  /** Where netlify dev's own proxy listens, on 127.0.0.1. */
  port: number;
  /** The built preload (dist/dev-loopback.js). */
  preloadPath: string;
  stdio: StdioOptions;
  /** Its own process group, so that a test can end it with everything it started. */
  detached?: boolean;
  /** When set, netlify dev's port answers only requests carrying it (the front server's, src/dev/front-only-guard.ts). */
  frontSecret?: string;
  /**
   * The ports of netlify dev's own static and functions servers, on 127.0.0.1. Their defaults
   * (3999 and 34567…) are checked and then taken, so two netlify dev starting at once could
   * both pick one and one would die (seen: EADDRINUSE 127.0.0.1:3999).
   */
  innerPorts?: { staticServer: number; functions: number };
}

/** NODE_OPTIONS with the preload added (a file URL, which never holds a space NODE_OPTIONS would split at). */
export function withLoopbackPreload(nodeOptions: string | undefined, preloadPath: string): string {
  return [nodeOptions, `--import=${pathToFileURL(preloadPath).href}`].filter(Boolean).join(' ');
}

/** Ports for netlify dev's inner servers, each free on 127.0.0.1 a moment ago. */
export async function freeInnerPorts(): Promise<{ staticServer: number; functions: number }> {
  return { staticServer: await freeLoopbackPort(), functions: await freeLoopbackPort() };
}

/** A port that was free on 127.0.0.1 a moment ago. */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK_HOST, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * `--internal-disable-edge-functions`: offline, netlify dev cannot run edge functions (it
 * imports Netlify's edge bootstrap from the network, fails, and then serves the pages
 * unchecked); in edge mode the front server runs the gate instead.
 */
/** The site's own netlify-cli, else the first `netlify` on PATH (a global install), else undefined. */
export function findNetlifyCli(root: string, path = process.env.PATH ?? ''): string | undefined {
  const candidates = [join(root, 'node_modules', '.bin', 'netlify'), ...path.split(delimiter).filter(Boolean).map((dir) => join(dir, 'netlify'))];
  return candidates.find((candidate) => existsSync(candidate));
}

export function spawnNetlifyDev(options: NetlifyDevProcessOptions): ChildProcess {
  const netlify = findNetlifyCli(options.root, options.env.PATH);
  if (!netlify) throw new Error('netlify-cli is not installed: npm install --save-dev netlify-cli (or npm install -g netlify-cli)');
  if (!existsSync(options.preloadPath)) throw new Error(`${options.preloadPath} is missing: run \`npm run build\` first`);
  const inner = options.innerPorts ? ['--staticServerPort', String(options.innerPorts.staticServer), '--functions-port', String(options.innerPorts.functions)] : [];
  return spawn(netlify, ['dev', '--offline', '--internal-disable-edge-functions', '--port', String(options.port), ...inner], {
    cwd: options.root,
    env: {
      ...options.env,
      NODE_OPTIONS: withLoopbackPreload(options.env.NODE_OPTIONS, options.preloadPath),
      ...(options.frontSecret ? { [GUARDED_PORT_ENV]: String(options.port), [FRONT_SECRET_ENV]: options.frontSecret } : {}),
    },
    stdio: options.stdio,
    detached: options.detached ?? false,
  });
}
