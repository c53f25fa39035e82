/**
 * Lets netlify dev's own proxy port answer only the front server. On that port netlify dev
 * serves an edge-mode site's gated pages unchecked (the gate runs in the front server), so any
 * other local client, or a page in the browser, must not reach it. The front server adds a
 * header holding a secret made per start; the loopback preload installs this guard on the
 * server netlify dev opens on that port, and answers anything without the secret 403.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/** The header the front server sends the per-start secret in; removed before netlify dev sees the request. */
export const FRONT_SECRET_HEADER = 'x-rolegate-front';
/** Environment variables the preload reads: the guarded port and the secret. */
export const GUARDED_PORT_ENV = 'ROLEGATE_FRONT_ONLY_PORT';
export const FRONT_SECRET_ENV = 'ROLEGATE_FRONT_SECRET';

function carriesSecret(request: IncomingMessage, secret: Buffer): boolean {
  const sent = request.headers[FRONT_SECRET_HEADER];
  if (typeof sent !== 'string') return false;
  const given = Buffer.from(sent);
  return given.length === secret.length && timingSafeEqual(given, secret);
}

/** Wraps `server.emit` so that requests and upgrades without the secret never reach its listeners. */
export function guardFrontOnly(server: Server, secretText: string, frontHint: string): void {
  const secret = Buffer.from(secretText);
  const emit = server.emit.bind(server) as (event: string | symbol, ...args: unknown[]) => boolean;
  server.emit = ((event: string | symbol, ...args: unknown[]) => {
    if (event === 'request' || event === 'upgrade') {
      const request = args[0] as IncomingMessage;
      if (!carriesSecret(request, secret)) {
        if (event === 'request') {
          const response = args[1] as ServerResponse;
          response.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
          response.end(`Forbidden: this is netlify dev's internal port; open ${frontHint}\n`);
        } else {
          (args[1] as Duplex).destroy();
        }
        return true;
      }
      delete request.headers[FRONT_SECRET_HEADER];
    }
    return emit(event, ...args);
  }) as typeof server.emit;
}
