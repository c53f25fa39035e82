/**
 * `rolegate dev` as a person runs it in a site: its own process (group), the embedded
 * database, the admin password given, and the port chosen; stopped with everything it started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { childLogs } from './child-logs.js';
import { freePort } from './postgres-cluster.js';

export interface RunningDev {
  url: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export async function startRolegateDev(root: string, options: { entry: string; adminPassword: string; env?: Record<string, string> }): Promise<RunningDev> {
  const port = await freePort();
  let log = '';
  const child = spawn(process.execPath, [options.entry, 'dev', '--port', String(port)], {
    cwd: root,
    detached: true,
    env: { ...process.env, CI: 'true', ADMIN_PASSWORD: options.adminPassword, BCRYPT_COST: '10', JWT_SECRET: '', DATABASE_URL: '', SUPABASE_URL: '', ROLEGATE_DATA_DIR: '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d) => (log += d));
  child.stderr?.on('data', (d) => (log += d));
  // The address rolegate dev prints, and the origin the login function expects (SITE_URL).
  const url = `http://localhost:${port}`;
  const stop = async () => {
    childLogs.push(log);
    if (child.exitCode !== null || !child.pid) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
    const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 5000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`rolegate dev exited early:\n${log}`);
    const status = await fetch(`${url}/`, { redirect: 'manual' }).then(async (r) => (await r.arrayBuffer(), r.status), () => 0);
    if (status === 200) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`rolegate dev did not serve / within 90 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, child, output: () => log, stop };
}
