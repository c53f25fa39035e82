/**
 * Looking at rolegate's tables from outside the store, with superuser SQL:
 * snapshots to compare before and after a request, and a scan of every
 * column of every rolegate table for raw refresh tokens.
 */
import type pg from 'pg';

type Row = Record<string, unknown>;
/** table → row key (id, or key for login_throttle) → row as JSON. */
export type Snapshot = Map<string, Map<string, Row>>;

export interface TableDiff {
  added: Row[];
  removed: Row[];
  changed: Array<{ before: Row; after: Row; columns: string[] }>;
}

/** Rows here may change on any request: they are the log and the throttle counters. */
export const LOG_TABLES = ['audit_log', 'login_throttle'];

/** Every table in the rolegate schema (email_tokens and mail_outbox among them), so tables added later are covered without editing this file. */
export async function rolegateTables(sql: pg.Pool | pg.Client): Promise<string[]> {
  const rows = (await sql.query<{ table_name: string }>(
    `select table_name from information_schema.tables where table_schema = 'rolegate' and table_type = 'BASE TABLE' order by 1`,
  )).rows;
  return rows.map((r) => r.table_name);
}

/**
 * The row's primary key: id, key for login_throttle, token_hash for email_tokens (so a
 * token being used shows as a changed row, not one removed and one added).
 */
function keyOf(row: Row): string {
  return String(row.id ?? row.key ?? row.token_hash ?? JSON.stringify(row));
}

/** The account flows' tables (migration 20261203000000_account_mail.sql), which every snapshot must include. */
export const ACCOUNT_MAIL_TABLES = ['email_tokens', 'mail_outbox'];

/** Every row of `tables`, in one statement so the picture is consistent. */
export async function snapshot(sql: pg.Pool | pg.Client, tables: readonly string[]): Promise<Snapshot> {
  const text = tables.map((t) => `select '${t}' as t, row_to_json(x)::text as r from rolegate.${t} x`).join(' union all ');
  const rows = (await sql.query<{ t: string; r: string }>(text)).rows;
  const out: Snapshot = new Map(tables.map((t) => [t, new Map()]));
  for (const { t, r } of rows) {
    const row = JSON.parse(r) as Row;
    out.get(t)!.set(keyOf(row), row);
  }
  return out;
}

/** What changed between two snapshots, table by table; tables without changes are left out. */
export function diff(before: Snapshot, after: Snapshot): Record<string, TableDiff> {
  const result: Record<string, TableDiff> = {};
  for (const [table, afterRows] of after) {
    const beforeRows = before.get(table) ?? new Map<string, Row>();
    const d: TableDiff = { added: [], removed: [], changed: [] };
    for (const [key, row] of afterRows) {
      const old = beforeRows.get(key);
      if (!old) d.added.push(row);
      else {
        const columns = Object.keys(row).filter((c) => JSON.stringify(row[c]) !== JSON.stringify(old[c]));
        if (columns.length) d.changed.push({ before: old, after: row, columns });
      }
    }
    for (const [key, row] of beforeRows) if (!afterRows.has(key)) d.removed.push(row);
    if (d.added.length || d.removed.length || d.changed.length) result[table] = d;
  }
  return result;
}

const TOKEN_LENGTH = 43;

/**
 * Where any of `tokens` (43-character base64url refresh tokens) occurs in
 * `text`: every run of base64url characters is cut into 43-character windows
 * and looked up, so a token inside a longer run is still found.
 */
export function tokensIn(text: string, tokens: ReadonlySet<string>): string[] {
  const found = new Set<string>();
  for (const match of text.matchAll(/[A-Za-z0-9_-]{43,}/g)) {
    const run = match[0];
    for (let i = 0; i + TOKEN_LENGTH <= run.length; i += 1) {
      const window = run.slice(i, i + TOKEN_LENGTH);
      if (tokens.has(window)) found.add(window);
    }
  }
  return [...found];
}

/** Raw refresh tokens found anywhere in any column (text, arrays, jsonb, …) of any rolegate table. */
export async function rawTokensAtRest(sql: pg.Pool | pg.Client, tokens: ReadonlySet<string>): Promise<{ table: string; token: string }[]> {
  const hits: { table: string; token: string }[] = [];
  for (const table of await rolegateTables(sql)) {
    const rows = (await sql.query<{ r: string }>(`select row_to_json(x)::text as r from rolegate.${table} x`)).rows;
    for (const { r } of rows) for (const token of tokensIn(r, tokens)) hits.push({ table, token });
  }
  return hits;
}

/** Rows scanned by rawTokensAtRest, so a test can show the scan looked at something. */
export async function rowCount(sql: pg.Pool | pg.Client): Promise<number> {
  let n = 0;
  for (const table of await rolegateTables(sql)) n += Number((await sql.query(`select count(*)::int as n from rolegate.${table}`)).rows[0].n);
  return n;
}
