/**
 * A PostgreSQL cluster of a test file's own, from the machine's binaries,
 * that the test can stop, freeze and start again with its data intact: the
 * database faults a deployed function meets (server restarted, server hung)
 * made with the real server. The run-wide cluster (postgres-cluster.ts) is
 * shared and must never be stopped; this one is.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { initCluster } from './postgres-cluster.js';

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

export async function startRestartableCluster(): Promise<RestartableCluster> {
  const { data, dir, port, adminUrl, start, stopImmediately: stop } = await initCluster('rolegate-pgfault-');
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
    adminUrl,
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

/** Creates database `name` on the cluster and returns its connection string. */
export async function createClusterDatabase(cluster: RestartableCluster, name: string): Promise<string> {
  const setup = new pg.Client({ connectionString: cluster.adminUrl });
  await setup.connect();
  try {
    await setup.query(`create database ${pg.escapeIdentifier(name)}`);
  } finally {
    await setup.end();
  }
  const url = new URL(cluster.adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
