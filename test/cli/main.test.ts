import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { freePort } from '../support/postgres-cluster.js';
import { rolegate } from './fake-io.js';

const packageVersion = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe('rolegate dispatcher', () => {
  it('prints the usage for help and --help, and the version for --version', async () => {
    for (const argv of [['help'], ['--help']]) {
      const result = await rolegate(argv);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(result.stdout).toContain('rolegate users add --email E [--roles a,b] [--password-stdin]');
      expect(result.stdout).toContain('rolegate db migrate');
      expect(result.stdout).toContain('rolegate gates');
    }
    expect(await rolegate(['--version'])).toEqual({ code: 0, stdout: `${packageVersion}\n`, stderr: '', prompts: [] });
    expect((await rolegate(['users', 'help'])).stdout).toContain('rolegate users import FILE|-');
  });

  it('answers no command with the usage on stderr and exit code 1', async () => {
    const result = await rolegate([]);
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toContain('rolegate users list [--json]');
  });

  it('refuses an unknown command or option with one line and a usage hint', async () => {
    expect(await rolegate(['usres', 'list'])).toMatchObject({ code: 1, stdout: '', stderr: 'rolegate: unknown command "usres"\nrun `rolegate help` for usage\n' });
    expect(await rolegate(['--frobnicate'])).toMatchObject({ code: 1, stdout: '', stderr: 'rolegate: unknown option --frobnicate\nrun `rolegate help` for usage\n' });
    expect(await rolegate(['users'])).toMatchObject({ code: 1, stderr: 'rolegate: users needs a command (add, list, set-roles, disable, enable, revoke-sessions, import, invite)\nrun `rolegate users help` for usage\n' });
    expect(await rolegate(['db', 'drop'])).toMatchObject({ code: 1, stderr: 'rolegate: unknown db command "drop"\nrun `rolegate db help` for usage\n' });
    expect(await rolegate(['users', 'list', 'extra'])).toMatchObject({ code: 1, stderr: 'rolegate: unexpected argument "extra"\nrun `rolegate users help` for usage\n' });
  });

  it('routes gates commands to the gates module', async () => {
    const schema = await rolegate(['gates', 'schema']);
    expect(schema.code).toBe(0);
    expect(JSON.parse(schema.stdout)).toHaveProperty('$schema');
    expect(await rolegate(['gates', 'nope'])).toMatchObject({ code: 1 });
  });
});

describe('rolegate errors from the environment and the database', () => {
  it('lists the bad variables of a broken configuration without echoing their values', async () => {
    const result = await rolegate(['users', 'list'], { env: { DATABASE_URL: 'mysql://root:hunter2@db.example.com/app' } });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('rolegate: rolegate configuration is invalid:\n  - DATABASE_URL must be a postgres:// or postgresql:// connection string\n');
    const conflict = await rolegate(['db', 'migrate'], { env: { DATABASE_URL: 'postgres://localhost/app', ROLEGATE_DATA_DIR: 'data' } });
    expect(conflict).toMatchObject({ code: 1, stderr: 'rolegate: rolegate configuration is invalid:\n  - DATABASE_URL and ROLEGATE_DATA_DIR are all set: choose one database\n' });
  });

  it('says the database is unreachable, without the connection string or a stack trace', async () => {
    const url = `postgres://rolegate:s3cret-pw@127.0.0.1:${await freePort()}/app`;
    for (const argv of [['users', 'list'], ['db', 'migrate']]) {
      const result = await rolegate(argv, { env: { DATABASE_URL: url, DB_TIMEOUT_MS: '2000' } });
      expect({ argv, ...result }).toMatchObject({
        argv, code: 1, stdout: '',
        stderr: 'rolegate: the database is unreachable (check DATABASE_URL or SUPABASE_URL, and that the server is running)\n',
      });
    }
  });

  it('db migrate on Supabase points at `supabase db push`', async () => {
    const result = await rolegate(['db', 'migrate'], { env: { SUPABASE_URL: 'https://abc.supabase.co', SUPABASE_SERVICE_ROLE_KEY: 'x'.repeat(40) } });
    expect(result).toEqual({
      code: 0, stderr: '', prompts: [],
      stdout: 'Supabase: run `supabase db push` to deploy supabase/migrations (the service role key cannot change the schema)\n',
    });
  });

  it('refuses a missing password before touching the database', async () => {
    // No database is reachable here, so reaching it would fail differently.
    const result = await rolegate(['users', 'add', '--email', 'a@example.com'], { env: { DATABASE_URL: 'postgres://127.0.0.1:1/none' } });
    expect(result).toMatchObject({ code: 1, stderr: 'rolegate: no password given: stdin is not a terminal, so pass --password-stdin and pipe the password in\n' });
  });
});
