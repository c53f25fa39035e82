import { Json, type SqlArgument } from './sql-store.js';

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/** `{"a","b\"c"}`: a PostgreSQL array literal, every element quoted so no value can change its shape. */
function arrayLiteral(values: readonly (string | number)[]): string {
  return `{${values.map((v) => `"${String(v).replace(/[\\"]/g, (c) => `\\${c}`)}"`).join(',')}}`;
}

function parameter(value: SqlArgument): string | number | boolean | null {
  if (value instanceof Json) return JSON.stringify(value.value);
  if (Array.isArray(value)) return arrayLiteral(value);
  return value;
}

/** The arguments that are given, each with its name checked, as `[name, value, cast]`. */
function namedArguments(name: string, args: Record<string, SqlArgument | undefined>): [string, string | number | boolean | null, string][] {
  if (!IDENTIFIER.test(name)) throw new TypeError(`invalid SQL function name: ${name}`);
  const named: [string, string | number | boolean | null, string][] = [];
  for (const [key, value] of Object.entries(args)) {
    if (value === undefined) continue;
    if (!IDENTIFIER.test(key)) throw new TypeError(`invalid SQL argument name: ${key}`);
    named.push([key, parameter(value), value instanceof Json ? '::jsonb' : '']);
  }
  return named;
}

/**
 * Builds `select rolegate.fn(p_a => $1, …) as result` for drivers that bind
 * parameters (PGlite). Argument names are checked against a strict
 * identifier pattern because they are written into the statement; values are
 * bound parameters. Undefined arguments are left out so the SQL function's
 * defaults apply.
 */
export function functionCallStatement(name: string, args: Record<string, SqlArgument | undefined>): { text: string; values: unknown[] } {
  const named = namedArguments(name, args);
  const list = named.map(([key, , cast], i) => `${key} => $${i + 1}${cast}`);
  return { text: `select rolegate.${name}(${list.join(', ')}) as result`, values: named.map(([, value]) => value) };
}

/** The error PostgreSQL itself gives a bound text parameter holding U+0000, which no text value may contain. */
function nulError(): Error {
  return Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021' });
}

/**
 * A PostgreSQL string literal no value can break out of, by libpq's
 * PQescapeLiteral rules: quotes doubled, and with a backslash the `E'…'` form
 * with backslashes doubled, so it reads the same whatever
 * standard_conforming_strings says. Being a literal of unknown type, it is
 * resolved against the function's signature exactly as a bound parameter is.
 */
export function quoteLiteral(value: string | number | boolean | null): string {
  if (value === null) return 'null';
  if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError(`not a finite number: ${value}`);
  const text = String(value);
  if (text.includes('\0')) throw nulError();
  const quoted = `'${text.replace(/'/g, "''")}'`;
  return text.includes('\\') ? ` E${quoted.replace(/\\/g, '\\\\')}` : quoted;
}

/**
 * One simple-protocol script: `set local statement_timeout = N; select
 * rolegate.fn(p_a => '…', …) as result`. Both statements run in one implicit
 * transaction, so the timeout holds for that transaction alone and nothing
 * outlives it on the server connection. That is what a transaction pooler
 * (PgBouncer, Supavisor, Neon) needs: it hands every transaction any server
 * connection and refuses a timeout sent as a startup parameter. A bound
 * parameter cannot go in a script, so values are quoted literals instead.
 */
export function functionCallScript(name: string, args: Record<string, SqlArgument | undefined>, statementTimeoutMs: number): string {
  if (!Number.isSafeInteger(statementTimeoutMs) || statementTimeoutMs < 0) throw new TypeError(`invalid statement timeout: ${statementTimeoutMs}`);
  const list = namedArguments(name, args).map(([key, value, cast]) => `${key} => ${quoteLiteral(value)}${cast}`);
  return `set local statement_timeout = ${statementTimeoutMs}; select rolegate.${name}(${list.join(', ')}) as result`;
}
