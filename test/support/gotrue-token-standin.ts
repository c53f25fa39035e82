/**
 * TEST STAND-IN for Netlify Identity's (GoTrue's) password sign-in, since Identity cannot run
 * here, following netlify/gotrue's api/token.go and gotrue-js:
 *
 * - `POST /token`, form `grant_type=password&username=…&password=…`. An unknown address or a
 *   wrong password is `400 {"error":"invalid_grant","error_description":"No user found with that
 *   email, or password invalid."}`, an unconfirmed one `400 … "Email not confirmed"`; success is
 *   `200 {access_token, token_type: "bearer", expires_in, refresh_token}`.
 * - `GET /user` with `Authorization: Bearer <access token>`: the user JSON; another token is
 *   `401 {"code":401,"msg":"Invalid token: …"}`.
 *
 * `mode` makes it fail: `hang` never answers, `error` answers 500.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface IdentityAccount {
  /** Identity's user id (random when absent). */
  id?: string;
  email: string;
  password: string;
  roles?: string[];
  confirmed?: boolean;
  /** What `/user` says the address is, when it is not `email` (a misbehaving Identity). */
  userEmail?: string;
}

export interface GotrueTokenStandin {
  url: string;
  /** Every request, as `METHOD /path`. */
  requests: string[];
  mode: 'up' | 'hang' | 'error';
  close(): Promise<void>;
}

const BAD_LOGIN = { error: 'invalid_grant', error_description: 'No user found with that email, or password invalid.' };

export async function startGotrueTokenStandin(accounts: IdentityAccount[]): Promise<GotrueTokenStandin> {
  const users = new Map(accounts.map((a) => [a.email.toLowerCase(), { ...a, id: a.id ?? randomUUID(), at: new Date().toISOString() }]));
  const tokens = new Map<string, string>();
  const state = { requests: [] as string[], mode: 'up' as GotrueTokenStandin['mode'] };
  const server = createServer((req, res) => {
    state.requests.push(`${req.method} ${new URL(req.url ?? '/', 'http://standin').pathname}`);
    if (state.mode === 'hang') return;
    const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (state.mode === 'error') return send(500, { code: 500, msg: 'Internal server error' });
    let raw = '';
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://standin').pathname;
      if (path === '/token' && req.method === 'POST') {
        const form = new URLSearchParams(raw);
        if (form.get('grant_type') !== 'password') return send(400, { error: 'unsupported_grant_type', error_description: 'Unsupported grant type' });
        const user = users.get((form.get('username') ?? '').toLowerCase());
        if (!user) return send(400, BAD_LOGIN);
        if (user.confirmed === false) return send(400, { error: 'invalid_grant', error_description: 'Email not confirmed' });
        if (user.password !== form.get('password')) return send(400, BAD_LOGIN);
        const accessToken = randomBytes(24).toString('base64url');
        tokens.set(accessToken, user.email.toLowerCase());
        return send(200, { access_token: accessToken, token_type: 'bearer', expires_in: 3600, refresh_token: randomBytes(12).toString('base64url') });
      }
      if (path === '/user' && req.method === 'GET') {
        const email = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
        const user = email ? users.get(email) : undefined;
        if (!user) return send(401, { code: 401, msg: 'Invalid token: signature is invalid' });
        return send(200, {
          id: user.id, aud: '', role: '', email: user.userEmail ?? user.email, confirmed_at: user.at, created_at: user.at, updated_at: user.at,
          app_metadata: { provider: 'email', roles: user.roles ?? [] }, user_metadata: {},
        });
      }
      return send(404, { code: 404, msg: 'Not Found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const standin = state as GotrueTokenStandin;
  standin.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  standin.close = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return standin;
}
