/**
 * TEST STAND-IN for PostgREST (and the slice of Supabase's API gateway in front
 * of it). No PostgREST binary can be installed on these machines, so this small
 * server implements the part of PostgREST's documented contract that
 * rolegate's Supabase store relies on, over the real PostgreSQL the tests
 * start. It is not PostgREST: no table routes, no GET calls, no `Prefer`
 * handling, no schema cache (the catalog is read on every request).
 *
 * What it follows, and where that is documented:
 *
 * - Functions as RPC (https://docs.postgrest.org/en/latest/references/api/functions.html):
 *   `POST /rest/v1/rpc/<function>` with a JSON object whose keys are the
 *   function's parameter names. Parameters left out take their SQL defaults;
 *   an unknown key, a missing parameter without a default or an unknown
 *   function is `404 PGRST202`. JSON arrays become PostgreSQL arrays
 *   ("Functions with array parameters"), json/jsonb parameters receive the
 *   JSON value. Like PostgREST, the body is turned into arguments by
 *   `json_to_record`, so each value is converted by PostgreSQL to the
 *   parameter's declared type. A scalar function answers its value as JSON
 *   ("Scalar functions"); a void function answers `204 No Content` with no
 *   Content-Type (PostgREST CHANGELOG v10.0.0, #2001).
 *   Only POST is implemented; any other verb is `405 PGRST101`.
 * - Schemas (https://docs.postgrest.org/en/latest/references/api/schemas.html):
 *   the `Content-Profile` header picks the schema; without it, the first
 *   exposed schema is used; a schema that is not exposed is `406 PGRST106`.
 *   On Supabase the exposed list is "Exposed schemas" in the API settings.
 * - Authentication (https://docs.postgrest.org/en/latest/references/auth.html):
 *   the server connects as the `authenticator` login and, per request, in one
 *   transaction, `SET LOCAL ROLE`s to the JWT's `role` claim, or to the
 *   anonymous role (`anon`, Supabase's `db-anon-role`) when there is no
 *   `Authorization` header or no `role` claim. The JWT is checked with HS256
 *   and the JWT secret; an invalid one is `401 PGRST301`, an expired one
 *   `401 PGRST303` ("JWT expired"), both with `WWW-Authenticate: Bearer`.
 *   `request.jwt.claims`, `request.method` and `request.path` are set as
 *   transaction settings, and the search_path is the target schema then public.
 * - Supabase's API gateway (not PostgREST): every request must carry an
 *   `apikey` header holding one of the project's keys; missing → 401
 *   "No API key found in request", anything else → 401 "Invalid API key".
 *   Here a key is valid when it verifies as an HS256 JWT with the secret.
 * - Errors (https://docs.postgrest.org/en/latest/references/errors.html): the
 *   body is `{code, details, hint, message}` and the status comes from the
 *   SQLSTATE table reproduced in `statusForSqlState` below.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import pg from 'pg';

export interface PostgrestStandinOptions {
  /** Connection string of the `authenticator` login (PostgREST's own `db-uri`). */
  databaseUrl: string;
  /** HS256 secret for every key and token (Supabase's "JWT secret"). */
  jwtSecret: string;
  /** PostgREST's `db-schemas`; the first is the default. */
  exposedSchemas?: string[];
}

export interface PostgrestStandin {
  /** The "project URL": the API is under `${url}/rest/v1`. */
  url: string;
  /** HS256 JWT with `role: 'anon'`, like a Supabase project's anon key. */
  anonKey: string;
  /** HS256 JWT with `role: 'service_role'`, like a Supabase project's service-role key. */
  serviceRoleKey: string;
  close(): Promise<void>;
}

const ANON_ROLE = 'anon';
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * PostgREST's SQLSTATE → HTTP status table ("Errors" → "HTTP Status Codes"),
 * row by row, plus the `PTxyz` custom-status codes ("RAISE errors with HTTP
 * Status Codes"). 42501 is 401 for the anonymous role, 403 for any other.
 */
export function statusForSqlState(sqlstate: string, role: string): number {
  const custom = /^PT([1-5][0-9]{2})$/.exec(sqlstate);
  if (custom) return Number(custom[1]);
  const exact: Record<string, number> = {
    '23503': 409, '23505': 409, '25006': 405, '53400': 500, P0001: 400,
    '42883': 404, '42P01': 404, '42P17': 500, '42501': role === ANON_ROLE ? 401 : 403,
  };
  if (exact[sqlstate] !== undefined) return exact[sqlstate];
  const byClass: [string, number][] = [
    ['08', 503], ['09', 500], ['0L', 403], ['0P', 403], ['25', 500], ['28', 403], ['2D', 500],
    ['38', 500], ['39', 500], ['3B', 500], ['40', 500], ['53', 503], ['54', 500], ['55', 500],
    ['57', 500], ['58', 500], ['F0', 500], ['HV', 500], ['P0', 500], ['XX', 500],
  ];
  return byClass.find(([prefix]) => sqlstate.startsWith(prefix))?.[1] ?? 400;
}

interface Parameter {
  name: string;
  /** `format_type` output, usable as a column type in `json_to_record`. */
  type: string;
  hasDefault: boolean;
}

interface FunctionShape {
  parameters: Parameter[];
  returnType: string;
  returnsSet: boolean;
}

class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string,
    readonly details: string | null = null, readonly hint: string | null = null,
    readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body?: string, headers: Record<string, string> = {}): void {
  if (body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(body);
}

function sendError(res: ServerResponse, error: ApiError): void {
  send(res, error.status, JSON.stringify({ code: error.code, details: error.details, hint: error.hint, message: error.message }), error.headers);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const quote = (identifier: string) => pg.escapeIdentifier(identifier);

export async function startPostgrestStandin(options: PostgrestStandinOptions): Promise<PostgrestStandin> {
  const exposed = options.exposedSchemas ?? ['public', 'rolegate'];
  if (exposed.length === 0 || !exposed.every((s) => IDENTIFIER.test(s))) throw new TypeError('exposedSchemas must be plain schema names');
  const secret = new TextEncoder().encode(options.jwtSecret);
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 20 });
  pool.on('error', () => undefined); // a dropped idle connection surfaces on the next request instead

  /** The overloads of schema.fn that are plain functions (PostgREST does not call procedures). */
  async function overloadsOf(db: pg.PoolClient, schema: string, fn: string): Promise<FunctionShape[]> {
    const { rows } = await db.query(
      `select p.pronargs, p.pronargdefaults, p.proretset as returns_set,
              format_type(p.prorettype, null) as return_type,
              coalesce(p.proargnames, '{}'::text[]) as arg_names,
              coalesce(p.proargmodes::text[], '{}'::text[]) as arg_modes,
              array(select format_type(oid, null) from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) as oid) as arg_types
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = $1 and p.proname = $2 and p.prokind = 'f'`, [schema, fn]);
    return rows.map((row) => {
      const names = row.arg_names as string[];
      const modes = row.arg_modes as string[];
      const types = row.arg_types as string[];
      // Input parameters only: modes i (in), b (inout), v (variadic); no modes at all means all in.
      const inputs = types.map((type, i) => ({ name: names[i] ?? '', type, mode: modes[i] ?? 'i' }))
        .filter((a) => a.mode === 'i' || a.mode === 'b' || a.mode === 'v');
      const firstDefault = inputs.length - Number(row.pronargdefaults);
      return {
        parameters: inputs.map((a, i) => ({ name: a.name, type: a.type, hasDefault: i >= firstDefault })),
        returnType: String(row.return_type),
        returnsSet: row.returns_set === true,
      };
    });
  }

  /** PostgREST's overload resolution by argument names ("Overloaded functions"). */
  async function resolve(db: pg.PoolClient, schema: string, fn: string, keys: string[]): Promise<FunctionShape> {
    const candidates = (await overloadsOf(db, schema, fn)).filter((shape) => {
      const names = new Set(shape.parameters.map((p) => p.name));
      return keys.every((k) => names.has(k)) && shape.parameters.every((p) => p.hasDefault || keys.includes(p.name));
    });
    if (candidates.length === 1) return candidates[0]!;
    const signature = `${schema}.${fn}(${[...keys].sort().join(', ')})`;
    if (candidates.length > 1) {
      throw new ApiError(300, 'PGRST203', `Could not choose the best candidate function between several overloads of ${schema}.${fn}`);
    }
    throw new ApiError(404, 'PGRST202', `Could not find the function ${signature} in the schema cache`,
      `Searched for the function ${schema}.${fn} with parameters ${keys.length ? [...keys].sort().join(', ') : '(none)'}, but no matches were found in the schema cache.`,
      'If a new function was created in the database with this name and parameters, try reloading the schema cache.');
  }

  /** Verifies a key or token with the pinned algorithm; undefined payload means "not a valid JWT". */
  async function verify(token: string): Promise<{ payload?: JWTPayload; error?: unknown }> {
    try {
      return { payload: (await jwtVerify(token, secret, { algorithms: ['HS256'] })).payload };
    } catch (error) {
      return { error };
    }
  }

  async function authenticate(req: IncomingMessage): Promise<{ role: string; claims: JWTPayload }> {
    // Supabase's gateway, in front of PostgREST.
    const apikey = req.headers.apikey;
    if (typeof apikey !== 'string' || apikey === '') {
      throw Object.assign(new ApiError(401, '', 'No API key found in request', null, 'No `apikey` request header or url param was found.'), { gateway: true });
    }
    if (!(await verify(apikey)).payload) {
      throw Object.assign(new ApiError(401, '', 'Invalid API key', null, 'Double check your Supabase `anon` or `service_role` API key.'), { gateway: true });
    }
    // PostgREST itself.
    const authorization = req.headers.authorization;
    if (authorization === undefined) return { role: ANON_ROLE, claims: {} };
    const bearer = /^Bearer (\S+)$/i.exec(authorization)?.[1];
    const invalid = (message: string, code = 'PGRST301') =>
      new ApiError(401, code, message, null, null, { 'www-authenticate': `Bearer error="invalid_token", error_description="${message}"` });
    if (!bearer) throw invalid('Missing or malformed Authorization header');
    const { payload, error } = await verify(bearer);
    if (!payload) {
      if (error instanceof joseErrors.JWTExpired) throw invalid('JWT expired', 'PGRST303');
      if (error instanceof joseErrors.JWTClaimValidationFailed) throw invalid(`JWT claims validation failed: ${error.claim}`, 'PGRST303');
      if (error instanceof joseErrors.JWSSignatureVerificationFailed) throw invalid('JWSError JWSInvalidSignature');
      throw invalid('JWSError (CompactDecodeError Invalid number of parts or algorithm not allowed)');
    }
    return { role: typeof payload.role === 'string' && payload.role !== '' ? payload.role : ANON_ROLE, claims: payload };
  }

  function schemaOf(req: IncomingMessage): string {
    const profile = req.headers['content-profile'];
    const schema = typeof profile === 'string' && profile !== '' ? profile : exposed[0]!;
    if (!exposed.includes(schema)) {
      throw new ApiError(406, 'PGRST106', `Invalid schema: ${schema}`, null, `Only the following schemas are exposed: ${exposed.join(', ')}`);
    }
    return schema;
  }

  async function argumentsOf(req: IncomingMessage): Promise<Record<string, unknown>> {
    const contentType = req.headers['content-type'];
    if (contentType !== undefined && !/^application\/json\b/i.test(contentType)) {
      throw new ApiError(415, 'PGRST107', `None of these media types are available: ${contentType}`);
    }
    const text = await readBody(req);
    if (text.trim() === '') return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ApiError(400, 'PGRST102', 'Empty or invalid json');
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ApiError(400, 'PGRST102', 'Empty or invalid json');
    return parsed as Record<string, unknown>;
  }

  /**
   * `select <schema>.<fn>(a => pgrst_args.a, …) from json_to_record($1) as
   * pgrst_args(a <type>, …)`: the same json-to-arguments conversion PostgREST
   * performs. The whole body is bound as one parameter; identifiers are quoted.
   */
  function callStatement(schema: string, fn: string, shape: FunctionShape, args: Record<string, unknown>): { text: string; values: unknown[] } {
    const keys = Object.keys(args);
    const types = new Map(shape.parameters.map((p) => [p.name, p.type]));
    const record = `json_to_record($1::json) as pgrst_args(${keys.map((k) => `${quote(k)} ${types.get(k)}`).join(', ')})`;
    const call = `${quote(schema)}.${quote(fn)}(${keys.map((k) => `${quote(k)} => pgrst_args.${quote(k)}`).join(', ')})`;
    const values = keys.length ? [JSON.stringify(args)] : [];
    if (shape.returnsSet) {
      return { text: `select coalesce(json_agg(pgrst_row), '[]')::text as body from ${keys.length ? `${record}, lateral ` : ''}${call} as pgrst_row`, values };
    }
    const from = keys.length ? ` from ${record}` : '';
    if (shape.returnType === 'void') return { text: `select ${call}${from}`, values };
    return { text: `select to_json(${call})::text as body${from}`, values };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://standin');
    const match = /^\/rest\/v1\/rpc\/([^/]+)$/.exec(url.pathname);
    if (!match) throw new ApiError(404, 'PGRST125', `Invalid path specified in request URL`);
    const { role, claims } = await authenticate(req);
    if (req.method !== 'POST') throw new ApiError(405, 'PGRST101', 'Only GET and POST verbs are allowed for functions; this stand-in implements POST');
    const schema = schemaOf(req);
    const fn = decodeURIComponent(match[1]!);
    const args = await argumentsOf(req);
    const keys = Object.keys(args);

    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw new ApiError(503, 'PGRST000', 'Database client error. Retrying the connection.', (error as Error).message);
    }
    try {
      const shape = await resolve(client, schema, fn, keys);
      const statement = callStatement(schema, fn, shape, args);
      await client.query('begin');
      try {
        await client.query(`set local role ${quote(role)}`);
        await client.query(
          `select set_config('search_path', $1, true), set_config('request.jwt.claims', $2, true),
                  set_config('request.method', $3, true), set_config('request.path', $4, true)`,
          [`${quote(schema)}, public`, JSON.stringify(claims), 'POST', url.pathname]);
        const result = await client.query(statement.text, statement.values);
        await client.query('commit');
        if (shape.returnType === 'void') return send(res, 204);
        const body = result.rows[0]?.body as string | null | undefined;
        return send(res, 200, body ?? 'null');
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        const e = error as { code?: unknown; message?: string; detail?: string; hint?: string };
        if (typeof e.code !== 'string' || !/^[0-9A-Z]{5}$/.test(e.code)) throw error;
        throw new ApiError(statusForSqlState(e.code, role), e.code, e.message ?? 'error', e.detail ?? null, e.hint ?? null);
      }
    } finally {
      client.release();
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (error instanceof ApiError) {
        if ((error as { gateway?: boolean }).gateway) {
          send(res, error.status, JSON.stringify({ message: error.message, hint: error.hint }));
        } else {
          sendError(res, error);
        }
        return;
      }
      const message = error instanceof Error ? error.message : String(error);
      const connectionLost = /ECONNREFUSED|ECONNRESET|Connection terminated/i.test(message);
      sendError(res, connectionLost
        ? new ApiError(503, 'PGRST001', 'Database client error. Retrying the connection.', message)
        : new ApiError(500, 'PGRSTX00', message));
    });
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const { port } = server.address() as AddressInfo;
  // Shaped like a Supabase project's keys: {iss: "supabase", ref, role, iat, exp}.
  const key = (role: string) => new SignJWT({ iss: 'supabase', ref: 'standin', role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt().setExpirationTime('10y').sign(secret);

  let closed = false;
  return {
    url: `http://127.0.0.1:${port}`,
    anonKey: await key('anon'),
    serviceRoleKey: await key('service_role'),
    close: async () => {
      if (closed) return;
      closed = true;
      server.closeAllConnections();
      await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
      await pool.end();
    },
  };
}
