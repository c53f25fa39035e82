/**
 * TEST STAND-IN for PostgREST, the HTTP layer supabase-js talks to. No
 * PostgREST binary can be installed on these machines, so this small server
 * implements the part of its documented contract that rolegate uses, over the
 * real PostgreSQL the tests start:
 *
 * - `POST /rest/v1/rpc/<function>` with a JSON object of named arguments
 *   (PostgREST docs, "Functions as RPC"); the schema comes from the
 *   `Content-Profile` header and must be one of the exposed schemas, else 406
 *   PGRST106 ("Schemas").
 * - `Authorization: Bearer <JWT>` checked with HS256 and the JWT secret; its
 *   `role` claim is the database role the call runs as (`SET LOCAL ROLE`, after
 *   connecting as the `authenticator` login), exactly PostgREST's model
 *   ("Authentication"). A bad token is 401 PGRST301.
 * - The function's return value as JSON, or 204 for a void function; errors as
 *   `{code, message, details, hint}` with the HTTP status from PostgREST's
 *   SQLSTATE table ("Errors"): 42501 → 401 for anon / 403 otherwise, 23503 and
 *   23505 → 409, 22xxx / 23514 / P0001 → 400, 42883 → 404, 57014 → 500,
 *   08xxx → 503; an unknown function or argument set → 404 PGRST202.
 *
 * It is not PostgREST: no table routes, no preferences, no overloading.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, jwtVerify } from 'jose';
import pg from 'pg';

export interface PostgrestStandin {
  url: string;
  anonKey: string;
  serviceRoleKey: string;
  close(): Promise<void>;
}

interface Parameter {
  name: string;
  type: string;
}

function statusFor(sqlstate: string, role: string): number {
  if (sqlstate === '42501') return role === 'anon' ? 401 : 403;
  if (sqlstate === '23503' || sqlstate === '23505') return 409;
  if (sqlstate.startsWith('22') || sqlstate === '23514' || sqlstate === '23502' || sqlstate === 'P0001') return 400;
  if (sqlstate === '42883' || sqlstate === '42P01') return 404;
  if (sqlstate === '57014') return 500;
  if (sqlstate.startsWith('08') || sqlstate.startsWith('57P')) return 503;
  return 400;
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}

function error(res: ServerResponse, status: number, code: string, message: string, details: string | null = null, hint: string | null = null): void {
  send(res, status, { code, message, details, hint });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function arrayLiteral(values: unknown[]): string {
  return `{${values.map((v) => (v === null ? 'NULL' : `"${String(v).replace(/[\\"]/g, (c) => `\\${c}`)}"`)).join(',')}}`;
}

/** A JSON argument as the text PostgreSQL will cast to the parameter's type. */
function asParameter(value: unknown, type: string): unknown {
  if (value === null || value === undefined) return null;
  if (type === 'jsonb' || type === 'json') return JSON.stringify(value);
  if (type.endsWith('[]')) return Array.isArray(value) ? arrayLiteral(value) : value;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export async function startPostgrestStandin(options: {
  /** Connection string for the `authenticator` login (PostgREST's own). */
  databaseUrl: string;
  jwtSecret: string;
  exposedSchemas?: string[];
}): Promise<PostgrestStandin> {
  const exposed = options.exposedSchemas ?? ['public', 'rolegate'];
  const key = new TextEncoder().encode(options.jwtSecret);
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 20 });
  pool.on('error', () => undefined);

  async function parametersOf(schema: string, fn: string): Promise<Parameter[] | null> {
    const rows = (await pool.query(
      `select a.name, format_type(a.type, null) as type
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace,
              unnest(coalesce(p.proargnames, '{}'::text[]), p.proargtypes::oid[]) as a(name, type)
        where n.nspname = $1 and p.proname = $2`, [schema, fn])).rows as Parameter[];
    if (rows.length) return rows;
    const exists = await pool.query(`select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = $1 and p.proname = $2`, [schema, fn]);
    return exists.rowCount ? [] : null;
  }

  async function returnType(schema: string, fn: string): Promise<string> {
    const row = await pool.query(`select format_type(p.prorettype, null) as type from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = $1 and p.proname = $2`, [schema, fn]);
    return String(row.rows[0]?.type ?? 'void');
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://standin');
    const match = /^\/rest\/v1\/rpc\/([A-Za-z_][A-Za-z0-9_]*)$/.exec(url.pathname);
    if (req.method !== 'POST' || !match) return error(res, 404, 'PGRST125', `Invalid path specified in request URL`);
    const fn = match[1]!;
    const schema = (req.headers['content-profile'] as string | undefined) ?? 'public';
    if (!exposed.includes(schema)) return error(res, 406, 'PGRST106', 'Invalid schema: ' + schema, null, `Only the following schemas are exposed: ${exposed.join(', ')}`);

    const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    let role = 'anon';
    if (bearer) {
      try {
        const { payload } = await jwtVerify(bearer, key, { algorithms: ['HS256'] });
        role = typeof payload.role === 'string' ? payload.role : 'anon';
      } catch (e) {
        return error(res, 401, 'PGRST301', `JWSError ${(e as Error).name}`);
      }
    }

    let args: Record<string, unknown>;
    try {
      const text = await readBody(req);
      const parsed: unknown = text ? JSON.parse(text) : {};
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      args = parsed as Record<string, unknown>;
    } catch {
      return error(res, 400, 'PGRST102', 'Empty or invalid json');
    }

    const params = await parametersOf(schema, fn);
    const names = Object.keys(args);
    const known = new Map((params ?? []).map((p) => [p.name, p.type]));
    if (!params || names.some((n) => !known.has(n))) {
      return error(res, 404, 'PGRST202', `Could not find the function ${schema}.${fn}(${names.sort().join(', ')}) in the schema cache`,
        'Searched for the function with the given argument names, but no matches were found in the schema cache.', null);
    }
    const values = names.map((n) => asParameter(args[n], known.get(n)!));
    const call = `select "${schema}"."${fn}"(${names.map((n, i) => `"${n}" => $${i + 1}`).join(', ')}) as result`;
    const type = await returnType(schema, fn);

    const client = await pool.connect();
    try {
      await client.query('begin');
      await client.query(`set local role ${pg.escapeIdentifier(role)}`);
      const result = await client.query(call, values);
      await client.query('commit');
      if (type === 'void') return send(res, 204);
      return send(res, 200, result.rows[0]?.result ?? null);
    } catch (e) {
      await client.query('rollback').catch(() => undefined);
      const err = e as { code?: string; message?: string; detail?: string; hint?: string };
      const code = err.code ?? 'XX000';
      return error(res, statusFor(code, role), code, err.message ?? 'error', err.detail ?? null, err.hint ?? null);
    } finally {
      client.release();
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => error(res, 500, 'XX000', (e as Error).message));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const sign = (role: string) => new SignJWT({ role, iss: 'supabase' }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt().setExpirationTime('1h').sign(key);
  return {
    url: `http://127.0.0.1:${port}`,
    anonKey: await sign('anon'),
    serviceRoleKey: await sign('service_role'),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.end();
    },
  };
}
