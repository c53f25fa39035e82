import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FRONT_SECRET_HEADER, guardFrontOnly } from '../../src/dev/front-only-guard.js';

describe("netlify dev's port behind the front server", () => {
  let server: http.Server;
  let url: string;
  const reached: Array<string | string[] | undefined> = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      reached.push(req.headers[FRONT_SECRET_HEADER]);
      res.end('gated page');
    });
    guardFrontOnly(server, 'the-secret', 'http://localhost:8888');
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('answers 403 to any request without the secret, which never reaches netlify dev', async () => {
    for (const headers of [{} as Record<string, string>, { [FRONT_SECRET_HEADER]: 'guess' }, { [FRONT_SECRET_HEADER]: 'the-secreT' }, { [FRONT_SECRET_HEADER]: 'the-secret-and-more' }]) {
      const response = await fetch(`${url}/admin/`, { headers });
      expect(response.status).toBe(403);
      expect(await response.text()).toContain('open http://localhost:8888');
    }
    expect(reached).toEqual([]);
  });

  it('passes the front server\'s requests on without the secret header', async () => {
    const response = await fetch(`${url}/admin/`, { headers: { [FRONT_SECRET_HEADER]: 'the-secret' } });
    expect(await response.text()).toBe('gated page');
    expect(reached).toEqual([undefined]);
  });
});
