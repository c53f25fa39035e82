/**
 * A PostgreSQL cluster of a test file's own, from the machine's binaries,
 * that the test can stop, freeze and start again with its data intact: the
 * database faults a deployed function meets (server restarted, server hung)
 * made with the real server. The run-wide cluster (postgres-cluster.ts) is
 * shared and must never be stopped; this one is.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './postgres-cluster.js';

export interface RestartableCluster {
  adminUrl: string;
  port: number;
  /** `pg_ctl stop -m immediate`: every connection drops at once, as in a crash. */
  stop(): void;
  /** Starts the stopped cluster on the same port with the same data. */
  start(): void;
  /** SIGSTOP (true) or SIGCONT (false) to the server and all its backends: a hung database. */
  freeze(frozen: boolean): void;
  /** Stops the server and deletes its files. */
  destroy(): void;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(root, versions[0], 'bin');
  }
  const which = spawnSync('sh', ['-c', 'dirname "$(command -v initdb)"'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim() !== '.') return which.stdout.trim();
  throw new Error('PostgreSQL server binaries not found: install them with `apt-get install -y postgresql`');
}

export async function startRestartableCluster(): Promise<RestartableCluster> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'rolegate-pgfault-'));
  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? 'postgres' : (process.env.USER ?? 'postgres');
  if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()));
  const run = (file: string, args: string[]) => {
    const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, file), ...args]] : [join(bin, file), args];
    const result = spawnSync(cmd as string, argv as string[], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${file} failed: ${result.stderr || result.stdout}`);
  };
  const data = join(dir, 'data');
  const port = await freePort();
  run('initdb', ['-D', data, '-A', 'trust', '-U', user, '--no-sync', '-E', 'UTF8', '--locale=C']);
  const start = () => run('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`, 'start']);
  const stop = () => run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
  start();

  const serverPids = (): number[] => {
    const postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    // Its children from /proc (field 4 of /proc/PID/stat is the parent), so no procps is needed.
    const children = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster;
      } catch {
        return false;
      }
    }).map(Number);
    return [postmaster, ...children];
  };
  return {
    adminUrl: `postgres://${user}@127.0.0.1:${port}/postgres`,
    port,
    stop,
    start,
    freeze: (frozen) => {
      for (const pid of serverPids()) {
        try { process.kill(pid, frozen ? 'SIGSTOP' : 'SIGCONT'); } catch { /* exited meanwhile */ }
      }
    },
    destroy: () => {
      try { stop(); } catch { /* already down */ }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
