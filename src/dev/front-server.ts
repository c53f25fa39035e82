/**
 * The server `npm start` puts on 127.0.0.1:8888, in front of netlify dev (which listens on a
 * second loopback port). Every request goes through it:
 *
 * - the `nf_jwt` cookie is dropped unless it is a well-formed JWT (netlify dev crashes on some
 *   malformed ones, src/dev/access-cookie-filter.ts);
 * - in edge mode the generated edge gate (netlify/edge-functions/rolegate-gate/, the very file
 *   `rolegate gates build` writes for deploys) decides, and its `context.next()` forwards to
 *   netlify dev, which then holds no `Role=` rule of its own (its matcher accepts unsigned
 *   tokens); in redirects mode netlify dev's `Role=` rules decide, after the spellings they
 *   cannot see are refused or sent to their served path here;
 *
 * Hostile input never ends the process: a request the server cannot turn into a Fetch `Request`
 * gets a 400 or 405, one for another host name than this machine's a 421 (DNS rebinding), a gate that throws gets a 500 (fail closed, as the deployed function's
 * `onError: "fail"`), and netlify dev not answering gets a 502.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';
import { judgeablePath, servedPath } from '../core/request-path.js';
import { FRONT_SECRET_HEADER } from './front-only-guard.js';
import { LOOPBACK_HOST } from './loopback-listen.js';
import { withoutMalformedAccessToken } from './access-cookie-filter.js';
import { endToEndHeaders, forwardTo } from './upstream.js';

/** The generated edge function's default export (src/edge/gate.ts `EdgeHandler`). */
export type LocalEdgeGate = (request: Request, context: { next(request?: Request): Promise<Response> }) => Promise<Response>;

export interface FrontServerOptions {
  /** The port to listen on, on 127.0.0.1; 0 picks a free one. */
  port: number;
  /** netlify dev's own port, on 127.0.0.1. */
  upstreamPort: number;
  /** Edge mode's gate; without it every request goes straight to netlify dev. */
  gate?: LocalEdgeGate;
  /** Sent to netlify dev with every request, whose port answers nothing else (src/dev/front-only-guard.ts). */
  upstreamSecret?: string;
}

export interface FrontServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

class RequestRefused extends Error {
  constructor(readonly status: 400 | 405 | 421, message: string) {
    super(message);
  }
}

// RFC 9110 §9.3.6, §9.3.8: not for a static site, and `new Request` refuses them anyway.
const REFUSED_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);

// The names this machine's loopback goes by (RFC 6761 §6.3: `localhost` and names below it).
const LOOPBACK_HOST_HEADER = /^(?:(?:[a-z0-9-]+\.)*localhost|127\.0\.0\.1|\[::1\])(?::\d{1,5})?$/i;

/**
 * Whether the Host header names this machine. A page on another site can make the browser send
 * requests here under its own name by DNS rebinding (its name re-resolved to 127.0.0.1), and
 * then read the answers as same-origin; refusing every other name closes that door.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  return host !== undefined && LOOPBACK_HOST_HEADER.test(host);
}

/** The Fetch `Request` the gate decides on: the path as sent (never resolved against a base), the `nf_jwt` filter applied. */
export function fetchRequestFrom(incoming: http.IncomingMessage, origin: string): Request {
  const target = incoming.url ?? '';
  // Origin-form only (RFC 9112 §3.2.1): absolute-form is for proxies and `*` for OPTIONS to the server.
  if (!target.startsWith('/')) throw new RequestRefused(400, 'request target must be a path');
  if (!isLoopbackHost(incoming.headers.host)) throw new RequestRefused(421, 'this server answers only to localhost, 127.0.0.1 and [::1]');
  const method = incoming.method ?? 'GET';
  if (REFUSED_METHODS.has(method)) throw new RequestRefused(405, `method ${method} not allowed`);
  let url: URL;
  try {
    // Concatenated, not resolved: `new URL('//admin/', base)` would read `admin` as a host.
    url = new URL(`${origin}${target}`);
  } catch {
    throw new RequestRefused(400, 'malformed request target');
  }
  const headers = new Headers();
  try {
    for (let i = 0; i < incoming.rawHeaders.length; i += 2) {
      if (incoming.rawHeaders[i]!.toLowerCase() !== 'cookie') headers.append(incoming.rawHeaders[i]!, incoming.rawHeaders[i + 1]!);
    }
  } catch {
    throw new RequestRefused(400, 'malformed header');
  }
  // Node joins repeated Cookie headers into one with "; " (RFC 9113 §8.2.3 allows the same).
  const cookie = withoutMalformedAccessToken(incoming.headers.cookie);
  if (cookie !== undefined) headers.set('cookie', cookie);
  const hasBody = method !== 'GET' && method !== 'HEAD';
  try {
    return new Request(url, {
      method,
      headers,
      ...(hasBody ? { body: Readable.toWeb(incoming) as unknown as ReadableStream<Uint8Array>, duplex: 'half' } : {}),
    } as RequestInit);
  } catch {
    throw new RequestRefused(400, 'malformed request');
  }
}

function plain(status: number, text: string): Response {
  return new Response(`${text}\n`, { status, headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' } });
}

/**
 * Redirects mode only: netlify dev's static server serves a gated page for spellings its
 * `Role=` rules never see (it reads `//admin/x` as the host `admin`, and no rule can match a
 * run of slashes inside a path), so they are settled here, as the edge gate settles them in
 * edge mode: a path no browser sends (dot segments, a backslash, an undecodable escape) is
 * refused, and a run of slashes is sent to the path the static server would have served.
 */
function spellingNetlifyDevCannotGate(request: Request): Response | null {
  const { pathname, search } = new URL(request.url);
  if (judgeablePath(pathname) === null) return plain(400, 'no browser sends this path (dot segments, a backslash or an undecodable escape)');
  const served = servedPath(pathname);
  if (served === pathname) return null;
  return new Response(null, { status: 308, headers: { Location: `${served}${search}`, 'Cache-Control': 'no-store' } });
}

async function answer(options: FrontServerOptions, incoming: http.IncomingMessage, origin: string): Promise<Response> {
  let request: Request;
  try {
    request = fetchRequestFrom(incoming, origin);
  } catch (error) {
    if (error instanceof RequestRefused) return plain(error.status, error.message);
    throw error;
  }
  if (!options.gate) {
    const refused = spellingNetlifyDevCannotGate(request);
    if (refused) return refused;
  }
  const next = async (forwarded: Request = request): Promise<Response> => {
    // The path netlify dev serves is the one the gate decided on: the gate may hand on a
    // changed request (fresh cookies), never another URL.
    if (forwarded.url !== request.url) throw new Error('the gate forwarded a different URL');
    return forwardTo(options.upstreamPort, forwarded, options.upstreamSecret ? { [FRONT_SECRET_HEADER]: options.upstreamSecret } : {});
  };
  try {
    return await (options.gate ? options.gate(request, { next }) : next());
  } catch (error) {
    if (error instanceof Error && 'code' in error && typeof error.code === 'string' && /^(ECONNREFUSED|ECONNRESET|EPIPE)$/.test(error.code)) {
      return plain(502, 'netlify dev is not answering (starting, restarting or stopped)');
    }
    console.error(`rolegate: the local gate failed, refusing the request: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    return plain(500, 'Internal Server Error: the gate failed');
  }
}

async function respond(response: Response, outgoing: http.ServerResponse, method: string | undefined): Promise<void> {
  outgoing.writeHead(response.status, response.statusText || undefined, endToEndHeaders(response.headers).flat());
  if (!response.body || method === 'HEAD') {
    outgoing.end();
    await response.body?.cancel();
    return;
  }
  await pipeline(Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>), outgoing);
}

/**
 * Starts the front server on 127.0.0.1.
 *
 * @example
 * const front = await startFrontServer({ port: 8888, upstreamPort: 38123, gate });
 */
export async function startFrontServer(options: FrontServerOptions): Promise<FrontServer> {
  const server = http.createServer();
  let origin = '';
  server.on('request', (incoming: http.IncomingMessage, outgoing: http.ServerResponse) => {
    answer(options, incoming, origin)
      .then((response) => respond(response, outgoing, incoming.method))
      .catch(() => outgoing.destroy());
  });
  // CONNECT and Upgrade requests come as their own events; without a listener Node drops the socket.
  server.on('connect', (_request, socket) => socket.end('HTTP/1.1 405 Method Not Allowed\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'));
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return void socket.destroy();
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, LOOPBACK_HOST, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  origin = `http://localhost:${port}`;
  return {
    url: origin,
    port,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
