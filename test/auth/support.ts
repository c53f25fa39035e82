/**
 * Builds handler events the way Netlify delivers them (lower-case headers,
 * string bodies, optional base64) and auth dependencies over a real store.
 */
import type { HandlerEvent, HandlerResponse } from '@netlify/functions';
import { readConfig, type AuthConfig, type Env } from '../../src/core/environment.js';
import { hashPassword } from '../../src/core/password.js';
import { gateTableFromConfig } from '../../src/gates/compile.js';
import type { AuthDeps } from '../../src/auth/deps.js';
import type { Store, User } from '../../src/store/store.js';
import { loginHandler, logoutHandler, refreshHandler } from '../../src/auth/handlers.js';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import starterConfig from '../../rolegate.config.json' with { type: 'json' };
import { uniqueEmail } from '../store/contract.js';

export const SITE = 'https://site.example';
export const SECRET = 'test-secret-for-rolegate-handlers-0123456789';
export const PASSWORD = 'correct horse battery staple';

export function authConfig(env: Env = {}): AuthConfig {
  return readConfig({ JWT_SECRET: SECRET, SITE_URL: SITE, BCRYPT_COST: '10', ROLEGATE_DATA_DIR: 'unused', ...env }).auth;
}

export function makeDeps(store: Store, env: Env = {}, now?: () => number): AuthDeps {
  return {
    store,
    config: authConfig(env),
    gates: gateTableFromConfig(starterConfig),
    now: now ?? (() => Math.floor(Date.now() / 1000)),
  };
}

let passwordHash: Promise<string> | undefined;
export async function makeUser(store: Store, roles: string[] = ['member'], email = uniqueEmail()): Promise<User> {
  passwordHash ??= hashPassword(PASSWORD, 10);
  const result = await store.createUser({ email, passwordHash: await passwordHash, roles });
  if (result.status !== 'created') throw new Error('fixture user not created');
  return result.user;
}

export interface EventOptions {
  method?: string;
  path?: string;
  query?: string;
  headers?: Record<string, string>;
  cookies?: Record<string, string>;
  json?: unknown;
  form?: Record<string, string>;
  body?: string;
  base64?: boolean;
  origin?: string | null;
}

export function event(options: EventOptions = {}): HandlerEvent {
  const headers: Record<string, string> = { 'x-nf-client-connection-ip': '203.0.113.10', ...options.headers };
  if (options.origin !== null) headers.origin = options.origin ?? SITE;
  let body = options.body ?? null;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  }
  if (options.form) {
    body = new URLSearchParams(options.form).toString();
    headers['content-type'] ??= 'application/x-www-form-urlencoded';
  }
  if (options.cookies) headers.cookie = Object.entries(options.cookies).map(([k, v]) => `${k}=${v}`).join('; ');
  if (options.base64 && body !== null) body = Buffer.from(body).toString('base64');
  const path = options.path ?? '/.netlify/functions/x';
  const query = options.query ?? '';
  return {
    rawUrl: `${SITE}${path}${query ? `?${query}` : ''}`,
    rawQuery: query,
    path,
    httpMethod: options.method ?? 'POST',
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: Object.fromEntries(new URLSearchParams(query)),
    multiValueQueryStringParameters: null,
    body,
    isBase64Encoded: Boolean(options.base64),
  };
}

export function setCookies(response: HandlerResponse): string[] {
  return (response.multiValueHeaders?.['Set-Cookie'] as string[] | undefined) ?? [];
}

/** name → value of every cookie the response sets (deletions map to ''). */
export function cookieValues(response: HandlerResponse): Record<string, string> {
  return Object.fromEntries(setCookies(response).map((c) => {
    const pair = c.split(';')[0]!;
    const i = pair.indexOf('=');
    return [pair.slice(0, i), decodeURIComponent(pair.slice(i + 1))];
  }));
}

export function body(response: HandlerResponse): any {
  return JSON.parse(response.body ?? 'null');
}

type Handler = ReturnType<typeof loginHandler>;

/** Login, logout and refresh on a fresh in-memory embedded store, for suites that send requests as a browser would. */
export async function handlersOnMemoryStore(): Promise<{ store: Store; login: Handler; logout: Handler; refresh: Handler }> {
  const store = await openEmbeddedStore({ dataDir: 'memory://' });
  const deps = makeDeps(store);
  return { store, login: loginHandler(async () => deps), logout: logoutHandler(async () => deps), refresh: refreshHandler(async () => deps) };
}
