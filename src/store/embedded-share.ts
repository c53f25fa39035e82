/**
 * One process owns an embedded database (PGlite allows a single process per data directory,
 * embedded-lock.ts); `rolegate dev` is that process while it runs, and shares the database with
 * the local functions and with `rolegate users …` in another terminal. It answers the same
 * SQL function calls the other stores make (FunctionCaller), on 127.0.0.1 only, to callers that
 * present the per-start secret written beside the lock in a file only the user can read.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isAlive } from './embedded-lock.js';
import { StoreUnavailableError } from './errors.js';
import { Json, type FunctionCaller, type SqlArgument } from './sql-store.js';

const SECRET_HEADER = 'x-rolegate-share-secret';
const MAX_BODY_BYTES = 8 * 1024 * 1024;

interface ShareFile {
  url: string;
  secret: string;
  pid: number;
}

/** Where the owner says how to reach it: beside the data directory, like its lock. */
export function shareFilePath(dataDir: string): string {
  return `${dataDir}.share.json`;
}

type WireArgument = Exclude<SqlArgument, Json> | { $json: unknown };

function toWire(args: Record<string, SqlArgument | undefined>): Record<string, WireArgument> {
  const wire: Record<string, WireArgument> = {};
  for (const [key, value] of Object.entries(args)) if (value !== undefined) wire[key] = value instanceof Json ? { $json: value.value } : value;
  return wire;
}

function fromWire(wire: Record<string, WireArgument>): Record<string, SqlArgument> {
  const args: Record<string, SqlArgument> = {};
  for (const [key, value] of Object.entries(wire)) {
    args[key] = value && typeof value === 'object' && !Array.isArray(value) ? new Json((value as { $json: unknown }).$json) : (value as SqlArgument);
  }
  return args;
}

/** The share of another live process for `dataDir`, or undefined when there is none. */
export function findShare(dataDir: string): ShareFile | undefined {
  try {
    const share = JSON.parse(readFileSync(shareFilePath(dataDir), 'utf8')) as Partial<ShareFile>;
    if (typeof share.url !== 'string' || typeof share.secret !== 'string' || typeof share.pid !== 'number') return undefined;
    if (share.pid === process.pid || !isAlive(share.pid)) return undefined;
    return share as ShareFile;
  } catch {
    return undefined;
  }
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sameSecret(given: string | string[] | undefined, secret: string): boolean {
  if (typeof given !== 'string' || given.length !== secret.length) return false;
  return timingSafeEqual(Buffer.from(given), Buffer.from(secret));
}

/** Serves `caller` to the other local processes until the returned close is called. */
export async function shareEmbeddedDatabase(dataDir: string, caller: FunctionCaller): Promise<{ close(): Promise<void> }> {
  const secret = randomBytes(32).toString('base64url');
  const answer = (response: ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };
  const server = createServer((request, response) => {
    if (request.method !== 'POST' || request.url !== '/call' || !sameSecret(request.headers[SECRET_HEADER], secret)) {
      answer(response, 403, { error: 'forbidden' });
      return;
    }
    void (async () => {
      try {
        const { name, args } = JSON.parse(await readBody(request)) as { name: string; args: Record<string, WireArgument> };
        answer(response, 200, { result: (await caller.call(name, fromWire(args))) ?? null });
      } catch (error) {
        answer(response, 500, { error: error instanceof Error ? error.message : String(error) });
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const path = shareFilePath(dataDir);
  writeFileSync(path, JSON.stringify({ url: `http://127.0.0.1:${port}/call`, secret, pid: process.pid } satisfies ShareFile), { mode: 0o600 });
  const removeFile = () => {
    try {
      if ((JSON.parse(readFileSync(path, 'utf8')) as ShareFile).pid === process.pid) unlinkSync(path);
    } catch { /* gone */ }
  };
  process.on('exit', removeFile);
  return {
    close: async () => {
      removeFile();
      process.off('exit', removeFile);
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A FunctionCaller that sends every call to the process sharing the database. */
export function sharedCaller(share: ShareFile, timeoutMs = 10_000): FunctionCaller {
  return {
    kind: 'embedded',
    async call(name, args) {
      let response: Response;
      try {
        response = await fetch(share.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [SECRET_HEADER]: share.secret },
          body: JSON.stringify({ name, args: toWire(args) }),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        throw new StoreUnavailableError(`the process sharing the embedded database (pid ${share.pid}) did not answer`, { cause: error });
      }
      const body = (await response.json().catch(() => ({}))) as { result?: unknown; error?: string };
      if (!response.ok) throw new Error(body.error ?? `the embedded database's owner answered ${response.status}`);
      return body.result ?? null;
    },
    close: async () => undefined,
  };
}
