/**
 * The local site as `npm start` runs it: netlify dev on an internal loopback port (loopback
 * only, src/dev/netlify-dev-process.ts, answering the front server alone,
 * src/dev/front-only-guard.ts) behind the front server on 127.0.0.1 (the edge gate in edge
 * mode, the `nf_jwt` filter and the Host check in both, src/dev/front-server.ts).
 */
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Env } from '../core/environment.js';
import { startFrontServer, type FrontServer } from './front-server.js';
import { loadLocalEdgeGate, type LocalGates } from './local-gates.js';
import { freeInnerPorts, freeLoopbackPort, spawnNetlifyDev } from './netlify-dev-process.js';

export interface LocalSiteOptions {
  root: string;
  /** The environment of the functions (and of the edge gate). */
  env: Env;
  /** The front server's port on 127.0.0.1 (0: any free one). */
  port: number;
  /** What `buildLocalGates` returned for `root`. */
  gates: Pick<LocalGates, 'mode'>;
  /** The built loopback preload (dist/dev-loopback.js). */
  preloadPath: string;
  stdio: StdioOptions;
  detached?: boolean;
}

export interface LocalSite {
  /** The address to open: the front server. */
  url: string;
  front: FrontServer;
  netlifyDev: ChildProcess;
  /** netlify dev's own port, on 127.0.0.1; only the front server should use it. */
  netlifyDevPort: number;
  /** Closes the front server once netlify dev has exited. */
  closed: Promise<void>;
}

/**
 * Starts netlify dev and the front server. The front server answers at once (502 until
 * netlify dev is up).
 *
 * @example
 * const site = await startLocalSite({ root, env, port: 8888, gates, preloadPath, stdio: 'inherit' });
 */
export async function startLocalSite(options: LocalSiteOptions): Promise<LocalSite> {
  const gate = options.gates.mode === 'edge' ? await loadLocalEdgeGate(options.root, options.env) : undefined;
  const netlifyDevPort = await freeLoopbackPort();
  // Made per start: netlify dev's port then answers the front server only.
  const frontSecret = randomBytes(24).toString('base64url');
  const front = await startFrontServer({ port: options.port, upstreamPort: netlifyDevPort, upstreamSecret: frontSecret, ...(gate ? { gate } : {}) });
  let netlifyDev: ChildProcess;
  try {
    const innerPorts = await freeInnerPorts();
    netlifyDev = spawnNetlifyDev({ root: options.root, env: options.env, port: netlifyDevPort, preloadPath: options.preloadPath, stdio: options.stdio, detached: options.detached, frontSecret, innerPorts });
  } catch (error) {
    await front.close();
    throw error;
  }
  const closed = new Promise<void>((resolve) => {
    netlifyDev.once('exit', () => void front.close().then(resolve));
    netlifyDev.once('error', () => void front.close().then(resolve));
  });
  return { url: front.url, front, netlifyDev, netlifyDevPort, closed };
}
