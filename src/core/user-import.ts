/**
 * Reading users to import: rolegate's own JSON-lines format and Supabase/GoTrue
 * `auth.users` rows exactly as they are exported. Pure: text in, users or one
 * error out. Everything is checked before anything is written, so a bad file
 * never leaves half an import behind (the store's import is one transaction).
 */
import { isBcryptHash } from './password.js';
import { RolegateError } from './rolegate-error.js';
import { roleNameProblem } from './role-name.js';

/** A user ready for `Store.importUsers` (the same shape as the store's `NewUser`). */
export interface ImportedUser {
  /** Kept from the export so foreign keys pointing at the user survive the move. */
  id?: string;
  email: string;
  /** null: the user exists but cannot sign in with a password until one is set. */
  passwordHash: string | null;
  roles: string[];
  appMetadata: Record<string, unknown>;
  userMetadata: Record<string, unknown>;
}

export interface ParsedUserImport {
  users: ImportedUser[];
  /** Things a person should know that do not stop the import (each names its line). */
  warnings: string[];
}

/** A line of the import that cannot be used. Nothing was written. */
export class UserImportError extends RolegateError {
  readonly code = 'import_invalid';
  constructor(readonly line: number, readonly field: string | undefined, problem: string) {
    super(`line ${line}${field ? `: ${field}` : ''}: ${problem}`);
    this.name = 'UserImportError';
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export { normalizeEmail, emailProblem } from './email.js';
import { normalizeEmail, emailProblem } from './email.js';

/** Why a role cannot be given to a user, or undefined when it can: the roles a gate can require (core/role-name.ts). */
export function roleProblem(role: string): string | undefined {
  const problem = roleNameProblem(role);
  if (!problem) return undefined;
  return role === '' ? problem : `role ${JSON.stringify(role)}: ${problem}`;
}

/**
 * Pairs of roles that differ only by case: Netlify compares roles
 * case-sensitively, so `Admin` does not open a gate that requires `admin`.
 */
export function rolesDifferingOnlyByCase(roles: readonly string[]): [string, string][] {
  const seen = new Map<string, string>();
  const pairs: [string, string][] = [];
  for (const role of roles) {
    const folded = role.toLowerCase();
    const earlier = seen.get(folded);
    if (earlier !== undefined && earlier !== role) pairs.push([earlier, role]);
    else if (earlier === undefined) seen.set(folded, role);
  }
  return pairs;
}

interface SourceRow {
  line: number;
  value: unknown;
}

/** Splits JSON lines, or one JSON array, into values with the line each starts on. */
function splitRows(text: string): SourceRow[] {
  const body = text.replace(/^\uFEFF/, '');
  if (body.trimStart().startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (error) {
      throw new UserImportError(lineOfOffset(body, body.indexOf('[')), undefined, `the JSON array does not parse (${(error as Error).message})`);
    }
    const starts = arrayElementLines(body);
    return (parsed as unknown[]).map((value, index) => ({ line: starts[index] ?? 1, value }));
  }
  const rows: SourceRow[] = [];
  body.split(/\r?\n/).forEach((raw, index) => {
    if (raw.trim() === '') return;
    try {
      rows.push({ line: index + 1, value: JSON.parse(raw) });
    } catch (error) {
      throw new UserImportError(index + 1, undefined, `not valid JSON (${(error as Error).message})`);
    }
  });
  return rows;
}

function lineOfOffset(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** The line each top-level element of a (valid) JSON array starts on. */
function arrayElementLines(text: string): number[] {
  const lines: number[] = [];
  let line = 1;
  let depth = 0;
  let inString = false;
  let expectingElement = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') line++;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (/\s/.test(c)) continue;
    if (depth === 1 && expectingElement && c !== ']') {
      lines.push(line);
      expectingElement = false;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      depth++;
      if (depth === 1) expectingElement = true;
    } else if (c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 1) expectingElement = true;
  }
  return lines;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Metadata may be an object or, in CSV-derived exports, the JSON text of one. */
function metadataField(row: Record<string, unknown>, names: string[], line: number): Record<string, unknown> {
  for (const name of names) {
    let value = row[name];
    if (value === undefined || value === null || value === '') continue;
    if (typeof value === 'string') {
      try {
        value = JSON.parse(value);
      } catch {
        throw new UserImportError(line, name, 'is a string but not JSON');
      }
    }
    if (!isPlainObject(value)) throw new UserImportError(line, name, 'must be a JSON object');
    return value;
  }
  return {};
}

function rolesFrom(value: unknown, field: string, line: number): string[] {
  if (!Array.isArray(value)) throw new UserImportError(line, field, 'must be an array of role names');
  const roles: string[] = [];
  for (const role of value) {
    if (typeof role !== 'string') throw new UserImportError(line, field, `must contain only strings (found ${JSON.stringify(role)})`);
    const problem = roleProblem(role);
    if (problem) throw new UserImportError(line, field, problem);
    if (!roles.includes(role)) roles.push(role);
  }
  return roles;
}

/** rolegate's `roles`, else GoTrue's `app_metadata.roles`, else Netlify's `app_metadata.authorization.roles`. */
function rolesOf(row: Record<string, unknown>, appMetadata: Record<string, unknown>, appField: string, line: number): string[] {
  if (row.roles !== undefined && row.roles !== null) return rolesFrom(row.roles, 'roles', line);
  if (appMetadata.roles !== undefined && appMetadata.roles !== null) return rolesFrom(appMetadata.roles, `${appField}.roles`, line);
  const authorization = appMetadata.authorization;
  if (isPlainObject(authorization) && authorization.roles !== undefined && authorization.roles !== null) {
    return rolesFrom(authorization.roles, `${appField}.authorization.roles`, line);
  }
  return [];
}

function hashOf(row: Record<string, unknown>, line: number): string | null {
  const field = row.password_hash !== undefined && row.password_hash !== null ? 'password_hash' : 'encrypted_password';
  const value = row[field];
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') throw new UserImportError(line, field, 'must be a string');
  // The value is never echoed: it is a credential.
  if (!isBcryptHash(value)) throw new UserImportError(line, field, 'is not a bcrypt hash ($2a$, $2b$ or $2y$ with a two-digit cost)');
  return value;
}

function userOf(source: SourceRow): ImportedUser {
  const { line, value } = source;
  if (!isPlainObject(value)) throw new UserImportError(line, undefined, 'each line must be a JSON object');
  if (typeof value.email !== 'string') throw new UserImportError(line, 'email', value.email == null ? 'is missing' : 'must be a string');
  const email = normalizeEmail(value.email);
  const problem = emailProblem(email);
  if (problem) throw new UserImportError(line, 'email', problem);

  let id: string | undefined;
  if (value.id !== undefined && value.id !== null) {
    if (typeof value.id !== 'string' || !UUID.test(value.id)) throw new UserImportError(line, 'id', 'must be a UUID');
    id = value.id.toLowerCase();
  }

  const appField = value.raw_app_meta_data != null ? 'raw_app_meta_data' : 'app_metadata';
  const appMetadata = metadataField(value, ['raw_app_meta_data', 'app_metadata'], line);
  const userMetadata = metadataField(value, ['raw_user_meta_data', 'user_metadata'], line);
  const roles = rolesOf(value, appMetadata, appField, line);
  return { ...(id ? { id } : {}), email, passwordHash: hashOf(value, line), roles, appMetadata, userMetadata };
}

function isSet(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

/**
 * Parses an import file. Accepts JSON lines or one JSON array of objects with
 * `email`, `password_hash` and `roles` — or Supabase/GoTrue `auth.users` rows
 * (`encrypted_password`, `raw_app_meta_data`/`app_metadata` with `roles` or
 * `authorization.roles`, `raw_user_meta_data`/`user_metadata`, `id`).
 * Throws UserImportError naming the first bad line and field.
 *
 * @example
 * const { users } = parseUserImport({ text: '{"email":"a@example.com","password_hash":null,"roles":["admin"]}\n' });
 */
export function parseUserImport(options: { text: string; /** For `banned_until`; default now. */ now?: Date }): ParsedUserImport {
  const now = (options.now ?? new Date()).getTime();
  const rows = splitRows(options.text);
  if (rows.length === 0) throw new UserImportError(1, undefined, 'the file has no users');
  const users: ImportedUser[] = [];
  const warnings: string[] = [];
  const lineOfEmail = new Map<string, number>();
  const lineOfId = new Map<string, number>();
  for (const row of rows) {
    const user = userOf(row);
    const record = row.value as Record<string, unknown>;
    if (isSet(record.deleted_at)) {
      // A soft-deleted GoTrue user must not come back to life as a working account.
      warnings.push(`line ${row.line}: ${user.email} is deleted in the export (deleted_at) and was left out`);
      continue;
    }
    const earlierEmail = lineOfEmail.get(user.email);
    if (earlierEmail !== undefined) throw new UserImportError(row.line, 'email', `${user.email} is also on line ${earlierEmail}`);
    lineOfEmail.set(user.email, row.line);
    if (user.id) {
      const earlierId = lineOfId.get(user.id);
      if (earlierId !== undefined) throw new UserImportError(row.line, 'id', `${user.id} is also on line ${earlierId}`);
      lineOfId.set(user.id, row.line);
    }
    for (const [a, b] of rolesDifferingOnlyByCase(user.roles)) {
      warnings.push(`line ${row.line}: roles ${JSON.stringify(a)} and ${JSON.stringify(b)} differ only by case (Netlify compares roles case-sensitively)`);
    }
    if (isSet(record.banned_until) && Date.parse(String(record.banned_until)) > now) {
      warnings.push(`line ${row.line}: ${user.email} is banned in the export (banned_until); it is imported enabled — run \`rolegate users disable --email ${user.email}\``);
    }
    users.push(user);
  }
  return { users, warnings };
}

/** The mark on a user that came from Netlify Identity: their Identity id (also kept as the user's id). */
export const MOVED_FROM_IDENTITY = 'moved_from_identity';

/**
 * The users the Identity sync mirrored, as rolegate users to import: Identity's id, the address,
 * the roles a gate can require, and no password (it never left Identity: with IDENTITY_URL the
 * first login sets it). Also says how many roles were left out.
 */
export function usersFromIdentityMirror(mirror: readonly { id: string; email: string; roles: string[]; userMetadata: Record<string, unknown> }[]): { users: ImportedUser[]; droppedRoles: number } {
  let droppedRoles = 0;
  const users = mirror.map((m) => {
    const roles = m.roles.filter((role) => roleProblem(role) === undefined);
    droppedRoles += m.roles.length - roles.length;
    return { id: m.id, email: normalizeEmail(m.email), passwordHash: null, roles, appMetadata: { [MOVED_FROM_IDENTITY]: m.id }, userMetadata: m.userMetadata };
  });
  return { users, droppedRoles };
}
