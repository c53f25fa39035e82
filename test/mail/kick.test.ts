import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Secret } from '../../src/core/secret.js';
import { kickMailDelivery, MAIL_FUNCTION_PATH } from '../../src/mail/kick.js';
import { isValidKickProof, KICK_PROOF_HEADER } from '../../src/mail/kick-proof.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function site(answer: (request: IncomingMessage, response: ServerResponse) => void): Promise<string> {
  const server = createServer(answer);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('kicking mail delivery', () => {
  it("POSTs to the site's mail-background function", async () => {
    const calls: string[] = [];
    const url = await site((request, response) => {
      calls.push(`${request.method} ${request.url}`);
      response.writeHead(202).end();
    });
    await kickMailDelivery(new URL(url));
    expect(calls).toEqual([`POST ${MAIL_FUNCTION_PATH}`]);
  });

  it('proves itself with a header made from JWT_SECRET and the time, which the function accepts for five minutes', async () => {
    const proofs: (string | undefined)[] = [];
    const url = await site((request, response) => {
      proofs.push(request.headers[KICK_PROOF_HEADER] as string | undefined);
      response.writeHead(202).end();
    });
    const secret = new Secret('kick-tests-jwt-secret-0123456789abcdef');
    const sentAt = Date.UTC(2026, 11, 4, 12, 0, 0);
    await kickMailDelivery(url, { secret, nowMs: () => sentAt });
    const [proof] = proofs;
    expect(proof).toMatch(/^\d+\.[0-9a-f]{64}$/u);
    const at = (offsetSeconds: number) => isValidKickProof({ proof, secrets: [secret], unixSeconds: sentAt / 1000 + offsetSeconds });
    expect([at(-300), at(0), at(300)]).toEqual([true, true, true]);
    expect([at(-301), at(301)]).toEqual([false, false]);
    expect(isValidKickProof({ proof, secrets: [new Secret('another-jwt-secret-0123456789abcdef')], unixSeconds: sentAt / 1000 })).toBe(false);
    // The raw secret never travels, nor anything a JWT verifier would take.
    expect(proof).not.toContain(secret.reveal());
  });

  it('settles at its timeout when the function never answers, without throwing', async () => {
    const url = await site(() => undefined);
    const started = performance.now();
    await expect(kickMailDelivery(url, { timeoutMs: 200 })).resolves.toBeUndefined();
    expect(performance.now() - started).toBeLessThan(1500);
  });

  it('settles at its timeout even when fetch ignores the abort', async () => {
    const hangingFetch = (() => new Promise<Response>(() => undefined)) as typeof fetch;
    const started = performance.now();
    await expect(kickMailDelivery('https://site.example', { timeoutMs: 100, fetchImpl: hangingFetch })).resolves.toBeUndefined();
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('never throws: not a site, a refused connection, an error answer', async () => {
    await expect(kickMailDelivery('not a url')).resolves.toBeUndefined();
    await expect(kickMailDelivery('http://127.0.0.1:1')).resolves.toBeUndefined();
    const url = await site((_request, response) => response.writeHead(500).end('broken'));
    await expect(kickMailDelivery(url)).resolves.toBeUndefined();
  });
});
