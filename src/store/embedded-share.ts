/**
 * One process owns an embedded database (PGlite allows a single process per data directory,
 * embedded-lock.ts); `rolegate dev` is that process while it runs, and shares the database with
 * the local functions and with `rolegate users …` in another terminal. It answers the same
 * SQL function calls the other stores make (FunctionCaller), on 127.0.0.1 only, to callers that
 * prove they read the share file, which only the user can read (mode 0600, written whole):
 * each call asks the owner for a nonce and sends an HMAC-SHA256, keyed with the file's
 * per-start secret, over that nonce and the call. Anyone else on the machine can reach the
 * port; without the file they can neither make a proof nor replay one (a nonce is used once),
 * and the secret itself never crosses the socket.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isAlive } from './embedded-lock.js';
import { StoreUnavailableError } from './errors.js';
import { Json, type FunctionCaller, type SqlArgument } from './sql-store.js';

const NONCE_HEADER = 'x-rolegate-share-nonce';
const PROOF_HEADER = 'x-rolegate-share-proof';
const MAX_BODY_BYTES = 8 * 1024 * 1024;
/** A nonce is good for one call, made within this long. */
const NONCE_TTL_MS = 30_000;
/** Nonces handed out and not yet used; the oldest goes first beyond this (anyone may ask for one). */
const MAX_OPEN_NONCES = 1024;

interface ShareFile {
  /** Where to POST calls; the nonce is asked for at /nonce beside it. */
  url: string;
  secret: string;
  pid: number;
}

/** The proof a caller sends with a call: HMAC-SHA256 under the share's secret over the owner's nonce and the body. */
export function shareProof(secret: string, nonce: string, body: string): string {
  return createHmac('sha256', secret).update(`rolegate-share-v1\n${nonce}\n`).update(body).digest('base64url');
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

function sameProof(given: string | string[] | undefined, expected: string): boolean {
  if (typeof given !== 'string' || given.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

/** Writes the share file whole and readable by this user only: a temp file (0600, exclusive), then rename. */
function writeShareFile(path: string, share: ShareFile): void {
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(temporary, JSON.stringify(share), { mode: 0o600, flag: 'wx' });
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

export interface ShareOptions {
  /** The clock nonces expire by (tests). */
  now?: () => number;
}

/** Serves `caller` to the other local processes until the returned close is called. */
export async function shareEmbeddedDatabase(dataDir: string, caller: FunctionCaller, options: ShareOptions = {}): Promise<{ close(): Promise<void> }> {
  const now = options.now ?? Date.now;
  const secret = randomBytes(32).toString('base64url');
  const nonces = new Map<string, number>();
  const issueNonce = () => {
    for (const [nonce, expires] of nonces) if (expires <= now() || nonces.size >= MAX_OPEN_NONCES) nonces.delete(nonce); else break;
    const nonce = randomBytes(24).toString('base64url');
    nonces.set(nonce, now() + NONCE_TTL_MS);
    return nonce;
  };
  /** Whether `nonce` was handed out and is still fresh; either way it is spent. */
  const spendNonce = (nonce: string | string[] | undefined) => {
    if (typeof nonce !== 'string') return false;
    const expires = nonces.get(nonce);
    nonces.delete(nonce);
    return expires !== undefined && expires > now();
  };
  const answer = (response: ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };
  const server = createServer((request, response) => {
    if (request.method === 'GET' && request.url === '/nonce') {
      answer(response, 200, { nonce: issueNonce() });
      return;
    }
    const nonce = request.headers[NONCE_HEADER];
    // Spent by any request that names it, so each proof is good for one try.
    const fresh = spendNonce(nonce);
    if (request.method !== 'POST' || request.url !== '/call' || !fresh) {
      answer(response, 403, { error: 'forbidden' });
      return;
    }
    void (async () => {
      try {
        const text = await readBody(request);
        if (!sameProof(request.headers[PROOF_HEADER], shareProof(secret, nonce as string, text))) {
          answer(response, 403, { error: 'forbidden' });
          return;
        }
        const { name, args } = JSON.parse(text) as { name: string; args: Record<string, WireArgument> };
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
  writeShareFile(path, { url: `http://127.0.0.1:${port}/call`, secret, pid: process.pid });
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
      const closed = new Promise((resolve) => server.close(resolve));
      // Keep-alive connections of callers would hold close() open; calls in flight still finish.
      server.closeIdleConnections();
      await closed;
    },
  };
}

/** A FunctionCaller that sends every call to the process sharing the database, each with its proof. */
export function sharedCaller(share: ShareFile, timeoutMs = 10_000): FunctionCaller {
  const nonceUrl = new URL('/nonce', share.url);
  return {
    kind: 'embedded',
    async call(name, args) {
      const signal = AbortSignal.timeout(timeoutMs);
      const body = JSON.stringify({ name, args: toWire(args) });
      let response: Response;
      try {
        const { nonce } = (await (await fetch(nonceUrl, { signal })).json()) as { nonce: string };
        response = await fetch(share.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [NONCE_HEADER]: nonce, [PROOF_HEADER]: shareProof(share.secret, nonce, body) },
          body,
          signal,
        });
      } catch (error) {
        throw new StoreUnavailableError(`the process sharing the embedded database (pid ${share.pid}) did not answer`, { cause: error });
      }
      const result = (await response.json().catch(() => ({}))) as { result?: unknown; error?: string };
      if (!response.ok) throw new Error(result.error ?? `the embedded database's owner answered ${response.status}`);
      return result.result ?? null;
    },
    close: async () => undefined,
  };
}
