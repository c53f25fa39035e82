import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFrontServer, type FrontServer, type LocalEdgeGate } from '../../src/dev/front-server.js';
import { freeLoopbackPort } from '../../src/dev/netlify-dev-process.js';

interface Seen {
  method: string;
  url: string;
  cookie: string | undefined;
  host: string | undefined;
  body: string;
}

/** A stand-in for netlify dev: records what reached it and answers with two cookies. */
async function recordingUpstream(): Promise<{ port: number; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, cookie: req.headers.cookie, host: req.headers.host, body });
      res.writeHead(201, [['Set-Cookie', 'a=1; Path=/'], ['Set-Cookie', 'b=2; Path=/'], ['Content-Type', 'text/plain']].flat());
      res.end(`page ${req.url}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, seen, close: () => new Promise((r) => server.close(() => r())) };
}

function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let answer = '';
    socket.on('data', (d) => (answer += d));
    socket.on('error', () => resolve(answer));
    socket.on('close', () => resolve(answer));
    // Written, not ended: a client that half-closes before the answer gets none from Node's server.
    socket.setTimeout(10_000, () => socket.destroy());
    socket.write(bytes);
  });
}

const ARRAY_TOKEN = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.WzEsMiwzXQ.AAAA';

describe('the local front server', () => {
  let upstream: Awaited<ReturnType<typeof recordingUpstream>>;
  let front: FrontServer;
  const gateSaw: string[] = [];
  let gateBehaviour: 'next' | 'throw' | 'other-url' | 'deny' = 'next';

  const gate: LocalEdgeGate = async (request, context) => {
    gateSaw.push(`${new URL(request.url).pathname} ${request.headers.get('cookie') ?? ''}`);
    if (gateBehaviour === 'throw') throw new Error('gate bug');
    if (gateBehaviour === 'deny') return new Response(null, { status: 302, headers: { Location: '/login' } });
    if (gateBehaviour === 'other-url') return context.next(new Request('http://localhost/public-elsewhere', request));
    return context.next();
  };

  beforeAll(async () => {
    upstream = await recordingUpstream();
    front = await startFrontServer({ port: 0, upstreamPort: upstream.port, gate });
  });

  afterAll(async () => {
    await front.close();
    await upstream.close();
  });

  it('forwards method, path, query, host, cookies and body, and answers with every Set-Cookie', async () => {
    gateBehaviour = 'next';
    const response = await fetch(`${front.url}/auth/login?next=%2Fadmin%2F`, { method: 'POST', body: 'email=a', headers: { cookie: 'theme=dark' } });
    expect(response.status).toBe(201);
    expect(response.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    expect(await response.text()).toBe('page /auth/login?next=%2Fadmin%2F');
    expect(upstream.seen.at(-1)).toEqual({ method: 'POST', url: '/auth/login?next=%2Fadmin%2F', cookie: 'theme=dark', host: new URL(front.url).host, body: 'email=a' });
  });

  it('never lets a malformed nf_jwt reach the gate or netlify dev', async () => {
    gateBehaviour = 'next';
    await (await fetch(`${front.url}/admin/`, { headers: { cookie: `theme=dark; nf_jwt=${ARRAY_TOKEN}` } })).arrayBuffer();
    expect(upstream.seen.at(-1)?.cookie).toBe('theme=dark');
    expect(gateSaw.at(-1)).toBe('/admin/ theme=dark');
  });

  it('hands the gate the path as sent: //admin/ is a path, not the host "admin"', async () => {
    gateBehaviour = 'next';
    expect(await raw(front.port, 'GET //admin/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 201/);
    expect(gateSaw.at(-1)).toBe('//admin/x ');
    expect(upstream.seen.at(-1)?.url).toBe('//admin/x');
  });

  it('fails closed: a gate that throws, or forwards another URL, gets a 500 and nothing reaches netlify dev', async () => {
    for (const behaviour of ['throw', 'other-url'] as const) {
      gateBehaviour = behaviour;
      const before = upstream.seen.length;
      const response = await fetch(`${front.url}/admin/secret.html`);
      expect(response.status, behaviour).toBe(500);
      expect(await response.text()).not.toContain('page');
      expect(upstream.seen.length, behaviour).toBe(before);
    }
    gateBehaviour = 'deny';
    const denied = await fetch(`${front.url}/admin/`, { redirect: 'manual' });
    expect([denied.status, denied.headers.get('location')]).toEqual([302, '/login']);
  });

  it('answers hostile requests itself and keeps serving', async () => {
    gateBehaviour = 'next';
    const before = upstream.seen.length;
    const answers = [
      await raw(front.port, 'BREW /admin/ HTTP/1.1\r\nHost: localhost\r\n\r\n'),
      await raw(front.port, 'TRACE / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'),
      await raw(front.port, 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: localhost\r\n\r\n'),
      await raw(front.port, 'GET http://127.0.0.1/admin/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'),
      await raw(front.port, 'OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'),
      await raw(front.port, `GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`),
      await raw(front.port, `GET / HTTP/1.1\r\n${Array.from({ length: 3000 }, (_, i) => `X-${i}: 1`).join('\r\n')}\r\n\r\n`),
      await raw(front.port, 'GET /\u00ff HTTP/1.1\r\nHost: localhost\r\n\r\n'),
      await raw(front.port, 'GET / HTTP/9.9\r\nHost: localhost\r\n\r\n'),
      await raw(front.port, 'GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'),
    ].map((answer) => answer.split('\r\n')[0]);
    expect(answers).toEqual([
      'HTTP/1.1 400 Bad Request',
      'HTTP/1.1 405 Method Not Allowed',
      'HTTP/1.1 405 Method Not Allowed',
      'HTTP/1.1 400 Bad Request',
      'HTTP/1.1 400 Bad Request',
      'HTTP/1.1 431 Request Header Fields Too Large',
      'HTTP/1.1 431 Request Header Fields Too Large',
      'HTTP/1.1 400 Bad Request',
      'HTTP/1.1 400 Bad Request',
      'HTTP/1.1 400 Bad Request',
    ]);
    expect(upstream.seen.length).toBe(before);
    expect((await fetch(`${front.url}/`)).status).toBe(201);
  });

  it('answers only to this machine\'s names, so a page that rebinds its own name to 127.0.0.1 cannot read the site', async () => {
    gateBehaviour = 'next';
    const before = upstream.seen.length;
    for (const host of ['evil.example', 'evil.example:8888', '127.0.0.1.evil.example', 'localhost.evil.example', '10.0.0.5:8888', '']) {
      expect((await raw(front.port, `GET /admin/ HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)).split('\r\n')[0], host).toBe('HTTP/1.1 421 Misdirected Request');
    }
    expect((await raw(front.port, 'GET /admin/ HTTP/1.0\r\n\r\n')).split('\r\n')[0]).toBe('HTTP/1.1 421 Misdirected Request');
    expect(upstream.seen.length).toBe(before);
    for (const host of ['localhost', 'localhost:8888', 'app.localhost:1', '127.0.0.1:8888', '[::1]:8888']) {
      expect((await raw(front.port, `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)).split('\r\n')[0], host).toBe('HTTP/1.1 201 Created');
    }
  });

  it('answers 502 while netlify dev is not up', async () => {
    const nobody = await freeLoopbackPort();
    const lonely = await startFrontServer({ port: 0, upstreamPort: nobody });
    try {
      const response = await fetch(`${lonely.url}/`);
      expect(response.status).toBe(502);
    } finally {
      await lonely.close();
    }
  });
});

describe('the local front server in redirects mode (no edge gate)', () => {
  let upstream: Awaited<ReturnType<typeof recordingUpstream>>;
  let front: FrontServer;

  beforeAll(async () => {
    upstream = await recordingUpstream();
    front = await startFrontServer({ port: 0, upstreamPort: upstream.port });
  });

  afterAll(async () => {
    await front.close();
    await upstream.close();
  });

  const request = (target: string) => raw(front.port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);

  it.each(['/admin/%5C', '/admin/%', '/x/..%2Fadmin/', '/%2e%2e%2Fadmin/'])(
    'refuses %s, which no browser sends, before it reaches netlify dev',
    async (target) => {
      const before = upstream.seen.length;
      expect((await request(target)).split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
      expect(upstream.seen.length).toBe(before);
    },
  );

  // Each of these netlify dev serves as the gated page while its Role= rules never see it.
  it.each([
    ['//admin/', '/admin/'], ['///admin///index.html?x=1', '/admin/index.html?x=1'], ['/reports//annual.html', '/reports/annual.html'], ['/\\admin/', '/admin/'],
    ['/.//admin/', '/admin/'], ['/././/admin/', '/admin/'], ['/x/..//admin/', '/admin/'], ['/..//admin/', '/admin/'], ['/%2E//admin/', '/admin/'], ['/x/%2e%2e//admin/', '/admin/'], ['/.//members/', '/members/'],
  ])(
    'sends %s to the path the static server would serve (%s), where the gate applies',
    async (target, served) => {
      const before = upstream.seen.length;
      const answer = await request(target);
      expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 308 Permanent Redirect');
      expect(answer).toMatch(new RegExp(`\\r\\nlocation: ${served.replace(/[?.]/g, '\\$&')}\\r\\n`, 'i'));
      expect(upstream.seen.length).toBe(before);
    },
  );

  it('passes every other path on as sent', async () => {
    expect((await request('/admin/index.html?x=%2F')).split('\r\n')[0]).toBe('HTTP/1.1 201 Created');
    expect(upstream.seen.at(-1)?.url).toBe('/admin/index.html?x=%2F');
    expect((await request('/.netlify/functions/refresh/admin/')).split('\r\n')[0]).toBe('HTTP/1.1 201 Created');
  });
});
