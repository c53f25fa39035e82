import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { hashPassword, passwordProblem } from '../core/password.js';
import { emailProblem, normalizeEmail, parseUserImport, roleProblem, rolesDifferingOnlyByCase, usersFromIdentityMirror } from '../core/user-import.js';
import type { MirroredIdentityUser, Store, User } from '../store/store.js';
import { CliError, UsageError, type CliIo } from './io.js';
import { withStore } from './store-session.js';
import { table, timestamp } from './table.js';
import { invite } from './users-invite.js';
import * as admin from '../auth/admin.js';
import { AuthError } from '../core/auth-errors.js';

export const USERS_USAGE = `usage:
  rolegate users add --email E [--roles a,b] [--password-stdin]
                                              create a user (password prompted, or first line of stdin)
  rolegate users list [--json]                every user: email, roles, disabled, created
  rolegate users set-roles --email E --roles a,b
                                              replace the roles (--roles "" removes all)
  rolegate users disable --email E            block sign-in and end every session
  rolegate users enable --email E             allow sign-in again
  rolegate users revoke-sessions --email E    end every session; refresh tokens stop working
  rolegate users import FILE|-                import JSON lines (or a JSON array) of users,
                                              Supabase/GoTrue auth.users rows included
  rolegate users import --identity-mirror     make users of everyone the Identity sync copied (their
                                              password is set at their first login, with IDENTITY_URL)
  rolegate users invite --email E [--roles a,b]
                                              mail E a link to choose a password (a new user; roles
                                              default to the config's accounts.newUserRoles)
  rolegate users invite --pending             mail a new link to everyone without a password here
                                              (open invitations, Identity imports never signed in)`;

const DEFAULT_BCRYPT_COST = 11;

/** BCRYPT_COST from the environment, checked like the functions check it (10..15, default 11). */
export function bcryptCostFrom(env: CliIo['env']): number {
  const raw = env.BCRYPT_COST?.trim();
  if (raw === undefined || raw === '') return DEFAULT_BCRYPT_COST;
  const cost = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(cost >= 10 && cost <= 15)) throw new CliError('BCRYPT_COST must be a whole number from 10 to 15');
  return cost;
}

function emailOption(value: string | undefined): string {
  if (value === undefined) throw new UsageError('--email is required');
  const email = normalizeEmail(value);
  const problem = emailProblem(email);
  if (problem) throw new CliError(`--email ${problem}`);
  return email;
}

/** "a,b" → ["a","b"]; "" → []. Every name is checked; doubtful ones are warned about. */
function rolesOption(value: string, io: CliIo): string[] {
  if (value === '') return [];
  const roles: string[] = [];
  for (const role of value.split(',')) {
    const problem = roleProblem(role);
    if (problem) throw new CliError(`--roles: ${problem}${role.trim() !== role || role === '' ? ' (write --roles a,b without spaces or empty names)' : ''}`);
    if (!roles.includes(role)) roles.push(role);
  }
  for (const [a, b] of rolesDifferingOnlyByCase(roles)) {
    io.stderr.write(`rolegate: warning: roles ${JSON.stringify(a)} and ${JSON.stringify(b)} differ only by case (Netlify compares roles case-sensitively)\n`);
  }
  return roles;
}

async function requireUser(store: Store, email: string): Promise<User> {
  const user = await store.findUserByEmail(email);
  if (!user) throw new CliError(`no user with email ${email}`);
  return user;
}

const NO_TERMINAL = 'no password given: stdin is not a terminal, so pass --password-stdin and pipe the password in';

/** The new password: the first line of stdin, or typed twice on a terminal. */
async function newPassword(io: CliIo, fromStdin: boolean): Promise<string> {
  let password: string;
  if (fromStdin) {
    const text = await io.readStdin();
    password = /^[^\r\n]*/.exec(text)![0];
  } else {
    if (!io.stdinIsTTY || !io.promptSecret) throw new CliError(NO_TERMINAL);
    password = await io.promptSecret('Password: ');
    const problem = passwordProblem(password);
    if (problem) throw new CliError(`password ${problem}`);
    if ((await io.promptSecret('Repeat password: ')) !== password) throw new CliError('the two passwords differ');
  }
  const problem = passwordProblem(password);
  if (problem) throw new CliError(`password ${problem}`);
  return password;
}

function rolesText(roles: readonly string[]): string {
  return roles.length ? roles.join(',') : '(none)';
}

async function add(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { email: { type: 'string' }, roles: { type: 'string' }, 'password-stdin': { type: 'boolean' } },
    strict: true,
    allowPositionals: false,
  });
  const email = emailOption(values.email);
  const roles = rolesOption(values.roles ?? '', io);
  const cost = bcryptCostFrom(io.env);
  const fromStdin = values['password-stdin'] ?? false;
  // Piped passwords are read before the store is opened; a prompt waits until
  // the email is known to be free, so nobody types a password for nothing.
  const piped = fromStdin ? await newPassword(io, true) : undefined;
  if (!fromStdin && (!io.stdinIsTTY || !io.promptSecret)) throw new CliError(NO_TERMINAL);
  return withStore(io, async (store) => {
    if (await store.findUserByEmail(email)) throw new CliError(`a user with email ${email} already exists`);
    const password = piped ?? (await newPassword(io, false));
    const result = await store.createUser({ email, passwordHash: await hashPassword(password, cost), roles });
    if (result.status === 'email_taken') throw new CliError(`a user with email ${email} already exists`);
    io.stdout.write(`created ${result.user.email} (roles: ${rolesText(result.user.roles)})\n`);
    return 0;
  });
}

async function allUsers(store: Store): Promise<User[]> {
  const pageSize = 500;
  const users: User[] = [];
  for (let offset = 0; ; offset += pageSize) {
    const page = await store.listUsers({ limit: pageSize, offset });
    users.push(...page);
    if (page.length < pageSize) return users;
  }
}

async function list(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' } }, strict: true, allowPositionals: false });
  const users = await withStore(io, allUsers);
  if (values.json) {
    // User carries no hash (only the login path sees one), so this cannot leak it.
    const out = users.map((u) => ({
      id: u.id, email: u.email, roles: u.roles, disabled: u.disabledAt !== null, disabledAt: u.disabledAt,
      createdAt: u.createdAt, appMetadata: u.appMetadata, userMetadata: u.userMetadata,
    }));
    io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  }
  if (users.length === 0) {
    io.stdout.write('no users yet (add one with: rolegate users add --email E)\n');
    return 0;
  }
  io.stdout.write(table(['EMAIL', 'ROLES', 'DISABLED', 'CREATED'], users.map((u) => [
    u.email, u.roles.join(','), u.disabledAt ? `yes, since ${timestamp(u.disabledAt)}` : 'no', timestamp(u.createdAt),
  ])));
  return 0;
}

/** The admin use cases' refusals as the CLI says them (a user deleted since it was looked up is the only one here). */
async function asCli<T>(email: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof AuthError && error.code === 'not_found') throw new CliError(`no user with email ${email}`);
    if (error instanceof AuthError) throw new CliError(error.message);
    throw error;
  }
}

async function setRoles(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { email: { type: 'string' }, roles: { type: 'string' } }, strict: true, allowPositionals: false });
  const email = emailOption(values.email);
  if (values.roles === undefined) throw new UsageError('--roles is required (--roles "" removes every role)');
  const roles = rolesOption(values.roles, io);
  return withStore(io, async (store) => {
    const user = await requireUser(store, email);
    const updated = await asCli(email, () => admin.setRoles({ store }, {}, user.id, roles));
    io.stdout.write(`roles of ${email}: ${rolesText(updated.roles)} (in effect at the user's next token refresh)\n`);
    return 0;
  });
}

async function setDisabled(argv: string[], io: CliIo, disabled: boolean): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { email: { type: 'string' } }, strict: true, allowPositionals: false });
  const email = emailOption(values.email);
  return withStore(io, async (store) => {
    const user = await requireUser(store, email);
    // Disabling also ends every session and bumps token_version, in the same SQL function.
    await asCli(email, () => admin.setDisabled({ store }, {}, user.id, disabled));
    io.stdout.write(disabled ? `disabled ${email}; every session of it is ended\n` : `enabled ${email}\n`);
    return 0;
  });
}

async function revokeSessions(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { email: { type: 'string' } }, strict: true, allowPositionals: false });
  const email = emailOption(values.email);
  return withStore(io, async (store) => {
    const user = await requireUser(store, email);
    const sessions = await asCli(email, () => admin.endSessions({ store }, {}, user.id));
    const count = `${sessions} session${sessions === 1 ? '' : 's'}`;
    io.stdout.write(`ended ${count} of ${email}; no refresh token issued before now works any more (access tokens already issued last until they expire)\n`);
    return 0;
  });
}

/** `users import --identity-mirror`: everyone the Identity sync copied, without a password. */
async function importIdentityMirror(io: CliIo): Promise<number> {
  return withStore(io, async (store) => {
    const mirror: MirroredIdentityUser[] = [];
    for (let page = await store.listIdentityUsers({ limit: 500 }); page.length; page = await store.listIdentityUsers({ limit: 500, afterEmail: page.at(-1)!.email })) {
      mirror.push(...page);
    }
    if (!mirror.length) {
      io.stdout.write('the Identity mirror is empty: run rolegate sync backfill first (see rolegate sync help)\n');
      return 0;
    }
    const { users, droppedRoles } = usersFromIdentityMirror(mirror);
    if (droppedRoles) io.stderr.write(`rolegate: warning: ${droppedRoles} role${droppedRoles === 1 ? '' : 's'} left out: no gate can require ${droppedRoles === 1 ? 'it' : 'them'} (letters, digits, "_", "-" and ".")\n`);
    const result = await store.importUsers(users);
    io.stdout.write(`imported ${users.length} Identity user${users.length === 1 ? '' : 's'}: ${result.created} created, ${result.skipped} skipped (already here). They have no password here: with IDENTITY_URL set, each sets it by signing in with their Identity password\n`);
    return 0;
  });
}

async function importUsers(argv: string[], io: CliIo): Promise<number> {
  const { positionals, values } = parseArgs({ args: argv, options: { 'identity-mirror': { type: 'boolean' } }, strict: true, allowPositionals: true });
  if (values['identity-mirror']) {
    if (positionals.length) throw new UsageError('users import --identity-mirror takes no FILE');
    return importIdentityMirror(io);
  }
  if (positionals.length !== 1) throw new UsageError('users import needs exactly one FILE (or - for stdin), or --identity-mirror');
  const file = positionals[0]!;
  let text: string;
  if (file === '-') text = await io.readStdin();
  else {
    const path = resolve(io.cwd, file);
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new CliError(`no file ${path}`);
      if (code === 'EISDIR') throw new CliError(`${path} is a directory`);
      throw error;
    }
  }
  // Every line is checked before the database is opened: a bad file writes nothing.
  const { users, warnings } = parseUserImport({ text });
  for (const warning of warnings) io.stderr.write(`rolegate: warning: ${warning}\n`);
  const result = await withStore(io, (store) => store.importUsers(users));
  io.stdout.write(`imported ${users.length} user${users.length === 1 ? '' : 's'}: ${result.created} created, ${result.skipped} skipped (email or id already present)\n`);
  return 0;
}

/** `rolegate users <sub>`. Errors are thrown (CliError, parseArgs errors) for runCli to print. */
export async function usersCommand(argv: string[], io: CliIo): Promise<number> {
  const [subcommand, ...rest] = argv;
  switch (subcommand) {
    case 'add': return add(rest, io);
    case 'list': return list(rest, io);
    case 'set-roles': return setRoles(rest, io);
    case 'disable': return setDisabled(rest, io, true);
    case 'enable': return setDisabled(rest, io, false);
    case 'revoke-sessions': return revokeSessions(rest, io);
    case 'import': return importUsers(rest, io);
    case 'invite': return invite(rest, io, emailOption, (value) => rolesOption(value, io));
    case 'help':
    case '--help':
    case '-h':
      io.stdout.write(`${USERS_USAGE}\n`);
      return 0;
    case undefined:
      throw new UsageError('users needs a command (add, list, set-roles, disable, enable, revoke-sessions, import, invite)');
    default:
      throw new UsageError(`unknown users command ${JSON.stringify(subcommand)}`);
  }
}
