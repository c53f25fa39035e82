/**
 * Serves a Lambda-style handler over real HTTP on 127.0.0.1, as Netlify would deliver it
 * (lower-case headers, a string body, Set-Cookie from multiValueHeaders), so published
 * clients (gotrue-js, @netlify/identity) can be pointed at it unchanged.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HandlerEvent, HandlerResponse } from '@netlify/functions';

type Handler = (event: HandlerEvent) => Promise<HandlerResponse>;

export interface HandlerServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  close(): Promise<void>;
}

async function eventOf(request: IncomingMessage, origin: string): Promise<HandlerEvent> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const url = new URL(request.url ?? '/', origin);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  headers['x-nf-client-connection-ip'] ??= '198.51.100.20';
  return {
    rawUrl: url.href,
    rawQuery: url.search.slice(1),
    path: url.pathname,
    httpMethod: request.method ?? 'GET',
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: Object.fromEntries(url.searchParams),
    multiValueQueryStringParameters: null,
    body: chunks.length ? Buffer.concat(chunks).toString('utf8') : null,
    isBase64Encoded: false,
  };
}

export async function serveHandler(handler: Handler): Promise<HandlerServer> {
  let origin = '';
  const server = createServer((request, response) => {
    void (async () => {
      const answer = await handler(await eventOf(request, origin));
      for (const [name, value] of Object.entries(answer.headers ?? {})) response.setHeader(name, String(value));
      for (const [name, values] of Object.entries(answer.multiValueHeaders ?? {})) response.setHeader(name, values.map(String));
      response.statusCode = answer.statusCode;
      response.end(answer.body ?? '');
    })().catch((error: unknown) => {
      response.statusCode = 599;
      response.end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
