import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { UserImportError, emailProblem, normalizeEmail, parseUserImport, rolesDifferingOnlyByCase } from '../../src/core/user-import.js';
import { verifyPassword } from '../../src/core/password.js';
import { goTrueHash, goTrueRow, jsonLines } from '../cli/gotrue-fixtures.js';

const HASH = goTrueHash('correct horse battery').replace(/^\$2a\$/, '$2b$');

function importError(text: string): UserImportError {
  try {
    parseUserImport({ text });
  } catch (error) {
    if (error instanceof UserImportError) return error;
    throw error;
  }
  throw new Error('expected the import to be refused');
}

describe('parseUserImport: rolegate JSON lines', () => {
  it('reads one user per line, skipping blank lines, with emails normalised', () => {
    const text = `{"email":" Ada@Example.COM ","password_hash":"${HASH}","roles":["admin","editor"]}\n\n{"email":"bob@example.com","password_hash":null,"roles":[]}\n`;
    const { users, warnings } = parseUserImport({ text });
    expect(warnings).toEqual([]);
    expect(users).toEqual([
      { email: 'ada@example.com', passwordHash: HASH, roles: ['admin', 'editor'], appMetadata: {}, userMetadata: {} },
      { email: 'bob@example.com', passwordHash: null, roles: [], appMetadata: {}, userMetadata: {} },
    ]);
  });

  it('also reads one JSON array, and names the line an element starts on', () => {
    const text = `[\n  {"email":"a@example.com","roles":["x"]},\n  {\n    "email": "not an email"\n  }\n]\n`;
    expect(importError(text).message).toBe('line 3: email: "not an email" is not an email address');
    const ok = parseUserImport({ text: '[{"email":"a@example.com"},{"email":"b@example.com","roles":["r"]}]' });
    expect(ok.users.map((u) => u.email)).toEqual(['a@example.com', 'b@example.com']);
  });

  it('names the line and the field of the first bad line', () => {
    const good = `{"email":"a@example.com","password_hash":null,"roles":[]}`;
    expect(importError(`${good}\n{"email":"b@example.com","roles":["a b"]}`)).toMatchObject({ line: 2, field: 'roles' });
    expect(importError(`${good}\n{"email":"b@example.com","roles":"admin"}`).message).toBe('line 2: roles: must be an array of role names');
    expect(importError(`${good}\n${good.replace('a@', 'c@')}\n{"roles":[]}`).message).toBe('line 3: email: is missing');
    expect(importError(`${good}\n{"email":"b@example.com","id":"42"}`).message).toBe('line 2: id: must be a UUID');
    expect(importError(`${good}\n{"email":"b@example.com",`).message).toMatch(/^line 2: not valid JSON/);
    expect(importError(`${good}\n["b@example.com"]`).message).toBe('line 2: each line must be a JSON object');
    expect(importError('\n\n').message).toBe('line 1: the file has no users');
  });

  it('refuses a hash that is not bcrypt without echoing it', () => {
    const error = importError(`{"email":"a@example.com","password_hash":"$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"}`);
    expect(error).toMatchObject({ line: 1, field: 'password_hash' });
    expect(error.message).not.toContain('argon2id$');
  });

  it('refuses the same email twice in one file, naming both lines', () => {
    const text = `{"email":"a@example.com"}\n{"email":"b@example.com"}\n{"email":"A@EXAMPLE.com"}\n`;
    expect(importError(text).message).toBe('line 3: email: a@example.com is also on line 1');
  });

  it('refuses the same id twice in one file, naming both lines', () => {
    const id = '5b0b7a8e-3c1f-4f57-9d0e-0e6d3a1c2b4f';
    const text = `{"email":"a@example.com","id":"${id}"}\n{"email":"b@example.com","id":"${id.toUpperCase()}"}\n`;
    expect(importError(text).message).toBe(`line 2: id: ${id} is also on line 1`);
  });

  it('warns when two roles of a user differ only by case', () => {
    const { warnings } = parseUserImport({ text: '{"email":"a@example.com","roles":["admin","Admin"]}' });
    expect(warnings).toEqual(['line 1: roles "admin" and "Admin" differ only by case (Netlify compares roles case-sensitively)']);
  });
});

describe('parseUserImport: Supabase/GoTrue auth.users rows as exported', () => {
  it('takes the hash from encrypted_password, roles from raw_app_meta_data, and keeps the id', () => {
    const row = goTrueRow({ email: 'Grace@Example.com', password: 'correct horse battery', roles: ['editor'] });
    const { users } = parseUserImport({ text: jsonLines([row]) });
    expect(users).toEqual([{
      id: row.id,
      email: 'grace@example.com',
      passwordHash: row.encrypted_password,
      roles: ['editor'],
      appMetadata: { provider: 'email', providers: ['email'], roles: ['editor'] },
      userMetadata: { full_name: 'Test Person' },
    }]);
  });

  it('reads Netlify-style app_metadata.authorization.roles and metadata given as JSON text', () => {
    const row = goTrueRow({
      email: 'a@example.com',
      raw_app_meta_data: JSON.stringify({ provider: 'email', authorization: { roles: ['member'] } }),
      raw_user_meta_data: '{"name":"A"}',
    });
    const [user] = parseUserImport({ text: jsonLines([row]) }).users;
    expect(user).toMatchObject({ roles: ['member'], userMetadata: { name: 'A' } });
    const admin = { email: 'b@example.com', app_metadata: { authorization: { roles: ['admin'] } }, user_metadata: { n: 1 } };
    expect(parseUserImport({ text: jsonLines([admin]) }).users[0]).toMatchObject({ roles: ['admin'], userMetadata: { n: 1 } });
  });

  it('imports a row with an empty encrypted_password as a user without a password', () => {
    const [user] = parseUserImport({ text: jsonLines([goTrueRow({ email: 'magic@example.com' })]) }).users;
    expect(user!.passwordHash).toBeNull();
  });

  it('names the GoTrue field that is wrong', () => {
    const bad = goTrueRow({ email: 'a@example.com', raw_app_meta_data: { roles: ['ok', 'not ok'] } });
    expect(importError(jsonLines([goTrueRow({ email: 'z@example.com' }), bad])).message)
      .toBe('line 2: raw_app_meta_data.roles: role "not ok": role names may not contain spaces');
    expect(importError(jsonLines([goTrueRow({ email: 'a@example.com', encrypted_password: 'plain' })])))
      .toMatchObject({ line: 1, field: 'encrypted_password' });
    expect(importError(jsonLines([goTrueRow({ email: 'a@example.com', raw_user_meta_data: '{nope' })])).message)
      .toBe('line 1: raw_user_meta_data: is a string but not JSON');
  });

  it('leaves out users deleted in Supabase and warns about banned ones', () => {
    const rows = [
      goTrueRow({ email: 'gone@example.com', deleted_at: '2024-05-01T00:00:00Z' }),
      goTrueRow({ email: 'banned@example.com', banned_until: '2030-01-01T00:00:00Z' }),
      goTrueRow({ email: 'was-banned@example.com', banned_until: '2020-01-01T00:00:00Z' }),
    ];
    const { users, warnings } = parseUserImport({ text: jsonLines(rows), now: new Date('2025-01-01T00:00:00Z') });
    expect(users.map((u) => u.email)).toEqual(['banned@example.com', 'was-banned@example.com']);
    expect(warnings).toEqual([
      'line 1: gone@example.com is deleted in the export (deleted_at) and was left out',
      'line 2: banned@example.com is banned in the export (banned_until); it is imported enabled — run `rolegate users disable --email banned@example.com`',
    ]);
  });

  it('keeps a GoTrue $2a$ hash that still verifies against its password', async () => {
    const row = goTrueRow({ email: 'a@example.com', password: 'correct horse battery' });
    expect(row.encrypted_password).toMatch(/^\$2a\$04\$/);
    const [user] = parseUserImport({ text: jsonLines([row]) }).users;
    expect(await bcrypt.compare('correct horse battery', user!.passwordHash!)).toBe(true);
    expect(await bcrypt.compare('wrong horse battery', user!.passwordHash!)).toBe(false);
    expect(await verifyPassword('correct horse battery', user!.passwordHash!)).toBe(true);
  });
});

describe('email and role helpers', () => {
  it('normalises emails to trimmed NFC lower case', () => {
    expect(normalizeEmail('  Zoe\u0301@Example.COM\n')).toBe('zo\u00e9@example.com');
    expect(emailProblem('a@example.com')).toBeUndefined();
    expect(emailProblem('admin@localhost')).toBeUndefined();
    for (const bad of ['', 'a', 'a@', '@b.c', 'a@b@c', 'a b@c.d', 'a@b..c', 'a@.b', '\udfff@x.y', 'a@x\ud800.y']) expect(emailProblem(bad), bad).toBeDefined();
  });

  it('finds roles that differ only by case', () => {
    expect(rolesDifferingOnlyByCase(['admin', 'ADMIN', 'editor', 'Admin'])).toEqual([['admin', 'ADMIN'], ['admin', 'Admin']]);
    expect(rolesDifferingOnlyByCase(['a', 'b'])).toEqual([]);
  });
});
