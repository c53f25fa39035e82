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

/**
 * Builds `select rolegate.fn(p_a => $1, …) as result` for drivers that speak
 * SQL (node-postgres, PGlite). Argument names are checked against a strict
 * identifier pattern because they are written into the statement; values are
 * always bound parameters. Undefined arguments are left out so the SQL
 * function's defaults apply.
 */
export function functionCallStatement(name: string, args: Record<string, SqlArgument | undefined>): { text: string; values: unknown[] } {
  if (!IDENTIFIER.test(name)) throw new TypeError(`invalid SQL function name: ${name}`);
  const values: unknown[] = [];
  const named: string[] = [];
  for (const [key, value] of Object.entries(args)) {
    if (value === undefined) continue;
    if (!IDENTIFIER.test(key)) throw new TypeError(`invalid SQL argument name: ${key}`);
    values.push(parameter(value));
    named.push(`${key} => $${values.length}${value instanceof Json ? '::jsonb' : ''}`);
  }
  return { text: `select rolegate.${name}(${named.join(', ')}) as result`, values };
}
