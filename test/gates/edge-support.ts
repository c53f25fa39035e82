/**
 * The edge gate as Netlify would run it: the real generated function (written by
 * `buildEdgeGate` into a throwaway site, with the runtime bundled by scripts/edge-bundle.mjs),
 * a Web-standard Request, and a context shaped like Netlify's edge `Context` whose `next()`
 * serves the static page. The route patterns from the generated `config` decide whether Netlify
 * would invoke the function at all.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Env } from '../../src/core/environment.js';
import type { EdgeHandler, EdgeGateOptions } from '../../src/edge/gate.js';
import { buildEdgeGate } from '../../src/gates/edge-build.js';
import { parseGateConfig, type GateConfigInput } from '../../src/site-config/schema.js';
import type { GateTruthCase } from './truth-table.js';
import { bundleEdgeRuntime } from '../../scripts/edge-bundle.mjs';

export const SITE = 'https://site.example';
export const PAGE_BODY = 'the static page';

export interface EdgeSite {
  root: string;
  entryPath: string;
  runtimePath: string;
  /** The generated `config` export. */
  declaration: { pattern: string[]; onError: string };
  /** The generated default export, with `Netlify.env` set to `env` while it loads. */
  loadGenerated(env: Env): Promise<EdgeHandler>;
  /** The bundled runtime's `createEdgeGate`, for gates with other options. */
  createEdgeGate(options: EdgeGateOptions): EdgeHandler;
  close(): Promise<void>;
}

let loads = 0;

/** Bundles the runtime and generates the edge function for `config` (mode forced to "edge"). */
export async function makeEdgeSite(config: GateConfigInput): Promise<EdgeSite> {
  const root = await mkdtemp(join(tmpdir(), 'rolegate-edge-'));
  const runtimePath = join(root, 'edge-gate.js');
  await bundleEdgeRuntime(runtimePath);
  const { entryPath } = await buildEdgeGate({ siteRoot: root, config: parseGateConfig({ ...config, mode: 'edge' }), runtimePath });
  const generated = await import(pathToFileURL(entryPath).href);
  const runtime = await import(pathToFileURL(join(root, 'netlify/edge-functions/rolegate-gate/runtime.js')).href);
  return {
    root,
    entryPath,
    runtimePath,
    declaration: generated.config,
    async loadGenerated(env) {
      // A fresh module instance per environment, as a fresh edge isolate would read it.
      const fresh = await import(`${pathToFileURL(entryPath).href}?load=${++loads}`);
      const handler: EdgeHandler = fresh.default;
      return async (request, context) => {
        (globalThis as { Netlify?: unknown }).Netlify = { env: { toObject: () => ({ ...env }) } };
        try {
          return await handler(request, context);
        } finally {
          delete (globalThis as { Netlify?: unknown }).Netlify;
        }
      };
    },
    createEdgeGate: runtime.createEdgeGate,
    close: () => rm(root, { recursive: true, force: true }),
  };
}

/** Netlify's edge `Context`, as far as the gate uses it: `next()` serves the page and is counted. */
export function pageContext(): { next(request?: Request): Promise<Response>; calls: number; forwarded: Request[] } {
  const context = {
    calls: 0,
    forwarded: [] as Request[],
    async next(request?: Request) {
      context.calls += 1;
      if (request) context.forwarded.push(request);
      return new Response(PAGE_BODY, { status: 200, headers: { 'content-type': 'text/html', 'cache-control': 'public, max-age=0, must-revalidate' } });
    },
  };
  return context;
}

/** Whether Netlify would hand `pathname` (as sent, percent-escapes included) to the edge gate. */
export function routedToGate(declaration: EdgeSite['declaration'], pathname: string): boolean {
  return declaration.pattern.some((source) => new RegExp(source).test(pathname));
}

/**
 * Paths no browser sends, each a way around the truth table's gates (test/gates/truth-table.ts)
 * that the edge gate must refuse (400, no-store) instead of judging. The URL parser resolves
 * `..` only where the slash after it is a real one, so these keep a `..` segment once decoded,
 * and the origin may still resolve it into the gated tree; the last two do not decode at all.
 */
export const MALFORMED_GATE_PATHS = [
  '/x/%2E%2E%2Fadmin/users.html',
  '/x/%2e%2e%2fadmin/users.html',
  '/x/..%2Fadmin/secret.html',
  '/x/.%2E%2Fadmin/secret.html',
  '/admin/assets/..%2Fsecret.html', // out of a public exception into its gate
  '/admin/assets/%2E%2E%2F..%2Fmembers/x.html',
  '/.netlify/..%2Fadmin/secret.html', // out of the never-gated platform paths
  '/reports/x/..%2Fannual.html', // into an exact gate
  '/x/..%5Cadmin/users.html', // an escaped backslash
  '/admin/assets/x%5C..%5C..%5Csecret.html',
  '/%61dmin/secret.html%',
  '/%61dmin/%ff',
];

/** The request target of a truth-table case as it is sent (`sent`, or its path encoded), query included. */
export function caseTarget(testCase: Pick<GateTruthCase, 'path' | 'sent' | 'query'>): string {
  return `${testCase.sent ?? encodedRequestPath(testCase.path)}${testCase.query ? `?${testCase.query}` : ''}`;
}

/** The path an edge function's Request carries for a case: the URL parser resolves dot segments. */
export function pathAtEdge(testCase: Pick<GateTruthCase, 'path' | 'sent'>): string {
  return new URL(`${SITE}${testCase.sent ?? encodedRequestPath(testCase.path)}`).pathname;
}

/** Whether the edge receives the path the case states (every case but those with dot segments). */
export function arrivesAsStated(testCase: Pick<GateTruthCase, 'path' | 'sent'>): boolean {
  return decodeURIComponent(pathAtEdge(testCase)) === testCase.path;
}

/** A decoded path as a browser would send it. */
export function encodedRequestPath(path: string): string {
  return encodeURI(path).replace(/[?#]/g, (c) => encodeURIComponent(c));
}

export function cookieHeader(cookies: Record<string, string>): string {
  return Object.entries(cookies).filter(([, v]) => v !== '').map(([k, v]) => `${k}=${v}`).join('; ');
}

export interface EdgeAnswer {
  served: boolean;
  status: number;
  location: string | null;
  setCookies: string[];
  response: Response;
  /** The request the gate passed on to `context.next()`, when it passed one. */
  forwarded?: Request;
}

/**
 * One request through Netlify's routing and the gate: when no declared pattern matches, the
 * function is not invoked and the page is served as it is.
 */
export async function askGate(site: Pick<EdgeSite, 'declaration'>, gate: EdgeHandler, pathAndQuery: string, cookies: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<EdgeAnswer> {
  const request = new Request(`${SITE}${pathAndQuery}`, { headers: { ...headers, ...(cookies && Object.keys(cookies).length ? { cookie: cookieHeader(cookies) } : {}) } });
  const context = pageContext();
  const routed = routedToGate(site.declaration, new URL(request.url).pathname);
  const response = routed ? await gate(request, context) : await context.next();
  return {
    served: context.calls === 1 && response.status === 200 && (await response.clone().text()) === PAGE_BODY,
    status: response.status,
    location: response.headers.get('location'),
    setCookies: response.headers.getSetCookie(),
    response,
    ...(context.forwarded[0] ? { forwarded: context.forwarded[0] } : {}),
  };
}

export interface DenoAnswer {
  status: number;
  location: string | null;
  served: boolean;
  setCookies: string[];
  cacheControl: string | null;
}

const DENO_BINARY = fileURLToPath(new URL('../../node_modules/.bin/deno', import.meta.url));
const HARNESS = fileURLToPath(new URL('./edge-deno-harness.mjs', import.meta.url));

/** Whether the `deno` devDependency's binary is installed and runs here. */
export function denoAvailable(): boolean {
  return spawnSync(DENO_BINARY, ['--version'], { encoding: 'utf8' }).status === 0;
}

/**
 * Sends `requests` to the generated edge function under Deno, in one process. Permissions are
 * the least it needs: read the site, reach `allowNet` (the store's host), nothing else.
 */
export async function askGateUnderDeno(site: Pick<EdgeSite, 'root' | 'entryPath'>, env: Env, requests: Array<{ url: string; cookie?: string }>, allowNet?: string): Promise<{ runtime: string; answers: DenoAnswer[] }> {
  const inputPath = join(site.root, `deno-input-${++loads}.json`);
  await writeFile(inputPath, JSON.stringify({ entry: site.entryPath, env, pageBody: PAGE_BODY, requests }));
  const args = ['run', '--no-config', '--no-lock', '--no-remote', '--no-npm', '--no-prompt', `--allow-read=${site.root}`];
  if (allowNet) args.push(`--allow-net=${allowNet}`);
  const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolvePromise, reject) => {
    const child = spawn(DENO_BINARY, [...args, HARNESS, inputPath], { env: { PATH: process.env.PATH ?? '', HOME: site.root, DENO_DIR: join(site.root, '.deno'), NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
  if (result.code !== 0) throw new Error(`deno exited with ${result.code}:\n${result.stderr}`);
  const lastLine = result.stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(lastLine);
}
