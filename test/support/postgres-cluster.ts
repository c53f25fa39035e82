/**
 * A throwaway PostgreSQL cluster from the machine's own binaries (Debian's
 * `postgresql` package), started once per test run by vitest's global setup.
 * PostgreSQL refuses to run as root, so as root the cluster belongs to the
 * `postgres` system user. Nothing here is a fake: it is the real server.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PostgresCluster {
  /** Superuser connection string over TCP on 127.0.0.1. */
  adminUrl: string;
  port: number;
  stop(): void;
}

function findBinDir(): string {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(root, versions[0], 'bin');
  }
  const which = spawnSync('sh', ['-c', 'dirname "$(command -v initdb)"'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim() !== '.') return which.stdout.trim();
  throw new Error('PostgreSQL server binaries not found: install them with `apt-get install -y postgresql` (bash .ci/run does this)');
}

/** The `postgres` system user's ids: as root, PostgreSQL and PgBouncer run as that user, since both refuse root. */
export function postgresSystemUser(): { uid: number; gid: number } {
  return { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** An initialised, not yet started cluster in a fresh directory: the part every cluster of the tests shares. */
export interface ClusterFiles {
  dir: string;
  /** The data directory (postmaster.pid lives there). */
  data: string;
  port: number;
  adminUrl: string;
  /** pg_ctl start, waiting until it accepts connections. */
  start(): void;
  /** pg_ctl stop -m immediate: every connection drops at once, as in a crash. */
  stopImmediately(): void;
}

export async function initCluster(prefix: string, settings: string[] = []): Promise<ClusterFiles> {
  const bin = findBinDir();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? 'postgres' : (process.env.USER ?? 'postgres');
  if (asRoot) {
    const { uid, gid } = postgresSystemUser();
    chownSync(dir, uid, gid);
  }
  const run = (file: string, args: string[]) => {
    const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, file), ...args]] : [join(bin, file), args];
    const result = spawnSync(cmd as string, argv as string[], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${file} failed: ${result.stderr || result.stdout}`);
  };
  const data = join(dir, 'data');
  const port = await freePort();
  run('initdb', ['-D', data, '-A', 'trust', '-U', user, '--no-sync', '-E', 'UTF8', '--locale=C']);
  const options = [`-p ${port}`, `-k ${dir}`, '-c listen_addresses=127.0.0.1', '-c fsync=off', '-c full_page_writes=off', ...settings.map((s) => `-c ${s}`)];
  return {
    dir,
    data,
    port,
    adminUrl: `postgres://${user}@127.0.0.1:${port}/postgres`,
    start: () => run('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-o', options.join(' '), 'start']),
    stopImmediately: () => run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']),
  };
}

export async function startPostgresCluster(): Promise<PostgresCluster> {
  const cluster = await initCluster('rolegate-pg-', ['synchronous_commit=off', 'max_connections=200']);
  cluster.start();
  const stop = () => {
    try { cluster.stopImmediately(); } catch { /* already down */ }
    rmSync(cluster.dir, { recursive: true, force: true });
  };
  return { adminUrl: cluster.adminUrl, port: cluster.port, stop };
}
