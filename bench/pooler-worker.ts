/**
 * One child process of the pooler bench (bench/pooler-load.ts): a share of
 * the simulated function instances, each with its own store (a pool of one
 * connection) and its own login and refresh handlers, as a Netlify function
 * instance has them. Each signs its user in, then refreshes in a closed loop
 * carrying the cookie of the previous answer. Forked with IPC: it says
 * `ready`, waits for `go`, and answers with its counts.
 */
import type { HandlerEvent, HandlerResponse } from '@netlify/functions';
import gateConfig from '../rolegate.config.json' with { type: 'json' };
import { compileSiteConfig } from '../src/site-config/compile.js';
import { loginHandler, refreshHandler } from '../src/auth/handlers.js';
import { functionRuntime } from '../src/auth/runtime.js';
import { refreshCookie } from '../src/http/cookies.js';
import { openPostgresStore } from '../src/store/postgres.js';
import type { Store } from '../src/store/store.js';

export interface WorkerOrders {
  connectionString: string;
  emails: string[];
  password: string;
  /** The bcrypt cost the users were hashed at, given to the instances' config so a login neither pads nor rehashes. */
  bcryptCost: number;
  /** A client that got an error waits this long before it tries again, rather than spinning on a refused connection. */
  errorPauseMs: number;
}

export interface WorkerGo {
  /** Date.now() at which every process starts, so their per-second counts line up. */
  startAt: number;
  seconds: number;
}

export type ErrorKind = 'connection refused' | 'too many clients' | 'timeout' | 'other';

export interface WorkerCounts {
  requests: number;
  ok: number;
  /** A 401 or refresh_token_reused on a refresh: no session here ever reuses a token. */
  falseReuse: number;
  errors: Record<ErrorKind, number>;
  /** The first error of each kind, as "status code: cause", for the notes. */
  examples: Partial<Record<ErrorKind, string>>;
  /** Each answer's time, ms: sign-ins (all at once, on cold pools) apart from the refreshes that follow. */
  signInLatencies: number[];
  refreshLatencies: number[];
  /** 200 answers in each second of the load. */
  okPerSecond: number[];
  /** Instances that got at least one 200 before the deadline. */
  servedInstances: number;
}

const SITE = 'https://site.example';
const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';
const COOKIE = refreshCookie({}).name;

type Handler = (event: HandlerEvent) => Promise<HandlerResponse>;

interface Instance {
  email: string;
  ip: string;
  login: Handler;
  refresh: Handler;
  store: Store;
  /** What the store last threw: the handler's answer carries only the code, the cause says which kind of failure. */
  storeError?: unknown;
}

/** The store, with whatever it throws remembered on the instance (one request at a time, so it is this request's). */
function rememberingErrors(store: Store, instance: { storeError?: unknown }): Store {
  return new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } catch (error) {
          instance.storeError = error;
          throw error;
        }
      };
    },
  });
}

function newInstance(orders: WorkerOrders, email: string, index: number, prebuiltGates: unknown): Instance {
  // A visitor's address (a documentation range): only failed logins count against one.
  const instance = { email, ip: `198.51.100.${index % 250}` } as Instance;
  const base = functionRuntime({ JWT_SECRET: SECRET, SITE_URL: SITE, DATABASE_URL: orders.connectionString }, gateConfig, prebuiltGates);
  // Its own pool of one, instead of the runtime's store (POOL_DEFAULTS: two).
  instance.store = openPostgresStore({ connectionString: orders.connectionString, maxConnections: 1 });
  const store = rememberingErrors(instance.store, instance);
  const deps = async () => {
    const built = await base();
    return { ...built, store, config: { ...built.config, bcryptCost: orders.bcryptCost } };
  };
  instance.login = loginHandler(deps);
  instance.refresh = refreshHandler(deps);
  return instance;
}

function event(path: string, headers: Record<string, string>, body: string | null): HandlerEvent {
  return {
    httpMethod: 'POST', path, rawUrl: `${SITE}${path}`, rawQuery: '',
    headers: { origin: SITE, ...headers }, body, isBase64Encoded: false,
  } as unknown as HandlerEvent;
}

function refreshedToken(setCookies: unknown): string | undefined {
  const list = Array.isArray(setCookies) ? (setCookies as string[]) : [];
  const cookie = list.find((c) => c.startsWith(`${COOKIE}=`));
  return cookie?.slice(COOKIE.length + 1).split(';')[0];
}

/** Which failure `error` (an adapter error and its causes) is, by SQLSTATE, errno or message. */
function kindOf(error: unknown): ErrorKind {
  let e = error;
  for (let depth = 0; depth < 5 && e && typeof e === 'object'; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (code === '53300' || /too many clients/i.test(String(message))) return 'too many clients';
    if (code === 'ECONNREFUSED') return 'connection refused';
    if (code === '57014' || code === 'ETIMEDOUT' || /timeout|timed out/i.test(String(message))) return 'timeout';
    e = (e as { cause?: unknown }).cause;
  }
  return 'other';
}

function causeText(error: unknown): string {
  const messages: string[] = [];
  for (let e = error, depth = 0; depth < 5 && e instanceof Error; depth++, e = e.cause) {
    const code = (e as { code?: unknown }).code;
    messages.push(`${e.message}${typeof code === 'string' ? ` (${code})` : ''}`);
  }
  return messages.join(' ← ') || 'no store error';
}

async function runInstance(instance: Instance, orders: WorkerOrders, go: WorkerGo, counts: WorkerCounts): Promise<void> {
  const deadline = go.startAt + go.seconds * 1000;
  const headers = { 'x-nf-client-connection-ip': instance.ip };
  let token: string | undefined;
  let served = false;
  while (Date.now() < deadline) {
    instance.storeError = undefined;
    const refreshing = token !== undefined;
    const start = performance.now();
    const response = refreshing
      ? await instance.refresh(event('/.netlify/functions/refresh', { ...headers, cookie: `${COOKIE}=${token}` }, null))
      : await instance.login(event('/.netlify/functions/login', { ...headers, 'content-type': 'application/json' }, JSON.stringify({ email: instance.email, password: orders.password })));
    (refreshing ? counts.refreshLatencies : counts.signInLatencies).push(performance.now() - start);
    counts.requests += 1;
    const next = refreshedToken(response.multiValueHeaders?.['Set-Cookie']);
    const body = String(response.body ?? '');
    if (response.statusCode === 200 && next) {
      token = next;
      counts.ok += 1;
      // Not an answer after the deadline: by then other processes are closing their pools and free slots.
      const second = Math.floor((Date.now() - go.startAt) / 1000);
      if (second >= 0 && second < go.seconds) {
        counts.okPerSecond[second]! += 1;
        served = true;
      }
    } else if (refreshing && (response.statusCode === 401 || body.includes('refresh_token_reused'))) {
      counts.falseReuse += 1;
      token = undefined; // the session is gone: sign in again
    } else {
      const kind = kindOf(instance.storeError);
      counts.errors[kind] += 1;
      counts.examples[kind] ??= `${response.statusCode} ${/"code":"([^"]+)"/.exec(body)?.[1] ?? ''}: ${causeText(instance.storeError)}`;
      await new Promise((resolve) => setTimeout(resolve, orders.errorPauseMs));
    }
  }
  if (served) counts.servedInstances += 1;
}

function send(message: unknown): Promise<void> {
  return new Promise((resolve, reject) => process.send!(message, undefined, {}, (error) => (error ? reject(error) : resolve())));
}

let instances: Instance[] = [];
let orders: WorkerOrders | undefined;

process.on('message', (message: { orders?: WorkerOrders; go?: WorkerGo }) => {
  void (async () => {
    if (message.orders) {
      orders = message.orders;
      const prebuiltGates = compileSiteConfig(gateConfig);
      instances = orders.emails.map((email, i) => newInstance(orders!, email, i, prebuiltGates));
      await send({ ready: true });
      return;
    }
    const go = message.go!;
    const counts: WorkerCounts = {
      requests: 0, ok: 0, falseReuse: 0, signInLatencies: [], refreshLatencies: [], okPerSecond: new Array<number>(go.seconds).fill(0), servedInstances: 0,
      errors: { 'connection refused': 0, 'too many clients': 0, timeout: 0, other: 0 }, examples: {},
    };
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, go.startAt - Date.now())));
    await Promise.all(instances.map((instance) => runInstance(instance, orders!, go, counts)));
    await Promise.all(instances.map((instance) => instance.store.close()));
    await send({ counts });
    process.disconnect();
  })().catch((error: unknown) => {
    console.error('pooler worker failed:', error);
    process.exit(1);
  });
});
