import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { StoreLockedError } from './errors.js';

interface LockHolder {
  pid: number;
  command: string;
  since: string;
}

/** Whether process `pid` exists (owned by anyone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(lockPath: string): LockHolder | undefined {
  try {
    const parsed = JSON.parse(readFileSync(lockPath, 'utf8')) as Partial<LockHolder>;
    return typeof parsed.pid === 'number' ? (parsed as LockHolder) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * PGlite has no cross-process locking: two processes on one data directory
 * silently lose writes. This lock file (created with O_EXCL, holding the
 * owner's PID) makes the second process fail loudly instead. A lock left by a
 * process that no longer exists is taken over.
 *
 * Returns the function that releases the lock.
 */
export function acquireEmbeddedLock(lockPath: string, dataDir: string): () => void {
  mkdirSync(dirname(lockPath), { recursive: true });
  const me: LockHolder = { pid: process.pid, command: process.argv.slice(1).join(' ').slice(0, 200), since: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(lockPath, JSON.stringify(me), { flag: 'wx' });
      const release = () => {
        if (readHolder(lockPath)?.pid === process.pid) {
          try { unlinkSync(lockPath); } catch { /* already gone */ }
        }
        process.off('exit', release);
      };
      process.on('exit', release);
      return release;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = readHolder(lockPath);
      if (holder && holder.pid !== process.pid && isAlive(holder.pid)) {
        throw new StoreLockedError(
          `the embedded database in ${dataDir} is in use by process ${holder.pid} (${holder.command || 'unknown'}) since ${holder.since}. ` +
            'Only one process may open it: stop that process (for example the running `npm start`) and try again, ' +
            'or point DATABASE_URL at a PostgreSQL server that both can share.',
        );
      }
      // Stale (its process is gone) or unreadable: remove it and try again.
      try { unlinkSync(lockPath); } catch { /* raced with another remover */ }
    }
  }
  throw new StoreLockedError(`could not take the lock ${lockPath} for the embedded database in ${dataDir}`);
}
