/**
 * `context.next()` of the local edge gate: hands a request to netlify dev on its loopback port
 * and turns the answer into a Fetch `Response`, bytes untouched (a compressed body stays
 * compressed, redirects are not followed), as Netlify's edge hands a request on to the origin.
 */
import http from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

// RFC 9110 §7.6.1: connection-specific fields are not forwarded by an intermediary.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

/** The headers a proxy passes on: everything but the hop-by-hop fields and those Connection names. */
export function endToEndHeaders(headers: Headers): [string, string][] {
  const named = new Set((headers.get('connection') ?? '').split(',').map((token) => token.trim().toLowerCase()));
  const out: [string, string][] = [];
  for (const [name, value] of headers) {
    if (HOP_BY_HOP.has(name) || named.has(name) || name === 'set-cookie') continue;
    out.push([name, value]);
  }
  for (const cookie of headers.getSetCookie()) out.push(['set-cookie', cookie]);
  return out;
}

// Statuses whose response has no body (RFC 9110 §6.4.1); `new Response` refuses one for them.
const NULL_BODY_STATUSES = new Set([204, 205, 304]);

/** Sends `request` to http://127.0.0.1:`port` with the same method, path, query, headers and body, plus `extraHeaders` (which win). */
export function forwardTo(port: number, request: Request, extraHeaders: Record<string, string> = {}): Promise<Response> {
  const url = new URL(request.url);
  const extra = new Set(Object.keys(extraHeaders).map((name) => name.toLowerCase()));
  const headers = [...endToEndHeaders(request.headers).filter(([name]) => !extra.has(name)), ...Object.entries(extraHeaders)];
  return new Promise((resolve, reject) => {
    const outgoing = http.request({
      host: '127.0.0.1',
      port,
      method: request.method,
      path: `${url.pathname}${url.search}`,
      headers: headers.flat(),
      // One connection per request: netlify dev restarts its servers, and a kept-alive socket
      // to a gone server would fail a later request for no reason of its own.
      agent: false,
    });
    outgoing.on('error', reject);
    outgoing.on('response', (incoming) => {
      try {
        resolve(asResponse(request, incoming));
      } catch (error) {
        // A status `Response` cannot carry (1xx, say): a failed forward, not a crash.
        incoming.destroy();
        reject(error);
      }
    });
    if (request.body) Readable.fromWeb(request.body as unknown as WebReadableStream<Uint8Array>).on('error', (error) => outgoing.destroy(error)).pipe(outgoing);
    else outgoing.end();
  });
}

function asResponse(request: Request, incoming: http.IncomingMessage): Response {
  const headers = new Headers();
  for (let i = 0; i < incoming.rawHeaders.length; i += 2) {
    const name = incoming.rawHeaders[i]!.toLowerCase();
    if (!HOP_BY_HOP.has(name)) headers.append(name, incoming.rawHeaders[i + 1]!);
  }
  const status = incoming.statusCode ?? 502;
  const bodiless = request.method === 'HEAD' || NULL_BODY_STATUSES.has(status);
  if (bodiless) incoming.resume();
  const body = bodiless ? null : (Readable.toWeb(incoming) as unknown as ReadableStream<Uint8Array>);
  return new Response(body, { status, statusText: incoming.statusMessage, headers });
}
