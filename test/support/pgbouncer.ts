/**
 * Debian's PgBouncer (installed by .ci/run) in transaction mode in front of a
 * real PostgreSQL: each transaction gets whichever server connection is free,
 * as behind Supavisor's port 6543 or a Neon pooled host. Its settings are a
 * common production file's: `ignore_startup_parameters = extra_float_digits`
 * and nothing more, so a client that sends any other startup parameter (a
 * statement timeout, `options`) is refused as it would be there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, postgresSystemUser } from './postgres-cluster.js';

const BINARY = '/usr/sbin/pgbouncer';

export interface PgBouncer {
  /** `serverUrl` with the host and port of the pooler instead. */
  url(serverUrl: string): string;
  port: number;
  /** The pooler's own log, for a failure message. */
  log(): string;
  stop(): Promise<void>;
}

export interface PgBouncerOptions {
  /** The PostgreSQL server to pool, e.g. the run's cluster. */
  serverUrl: string;
  /** Server connections per database and user: the few that hundreds of clients share. */
  poolSize?: number;
  maxClients?: number;
}

function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

/** Starts PgBouncer on a free port and waits until it accepts connections. */
export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncer> {
  if (!existsSync(BINARY)) throw new Error(`PgBouncer not found at ${BINARY}: install it with \`apt-get install -y pgbouncer\` (bash .ci/run does this)`);
  const server = new URL(options.serverUrl);
  const dir = mkdtempSync(join(tmpdir(), 'rolegate-pgbouncer-'));
  const port = await freePort();
  const logFile = join(dir, 'pgbouncer.log');
  // Every database name is passed through, connecting as the server's own user
  // (the test cluster trusts 127.0.0.1), so one pooler serves every test database.
  writeFileSync(join(dir, 'pgbouncer.ini'), [
    '[databases]',
    `* = host=${server.hostname} port=${server.port} user=${decodeURIComponent(server.username)}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = any',
    'pool_mode = transaction',
    `default_pool_size = ${options.poolSize ?? 4}`,
    `max_client_conn = ${options.maxClients ?? 1000}`,
    'ignore_startup_parameters = extra_float_digits',
    `logfile = ${logFile}`,
    'log_connections = 0',
    'log_disconnections = 0',
    '',
  ].join('\n'));
  // PgBouncer refuses to run as root, like PostgreSQL.
  const ids = process.getuid?.() === 0 ? postgresSystemUser() : undefined;
  if (ids) chownSync(dir, ids.uid, ids.gid);
  const child: ChildProcess = spawn(BINARY, [join(dir, 'pgbouncer.ini')], { ...ids, stdio: 'ignore' });
  let exited = false;
  child.once('exit', () => { exited = true; });
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const deadline = Date.now() + 10_000;
  while (!(await accepting(port))) {
    if (exited || Date.now() > deadline) {
      child.kill('SIGKILL');
      const text = log();
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`PgBouncer did not start: ${text || 'no log'}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return {
    port,
    url: (serverUrl) => {
      const u = new URL(serverUrl);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    log,
    stop: async () => {
      if (!exited) {
        const gone = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 3000))]);
        if (!exited) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
