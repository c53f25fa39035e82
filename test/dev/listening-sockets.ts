/**
 * The TCP sockets a process tree listens on, read from /proc (never by connecting anywhere):
 * each process's `socket:[inode]` descriptors, looked up in its network namespace's
 * /proc/PID/net/tcp and tcp6 (state 0A is LISTEN, addresses are hex in host byte order).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface ListeningSocket {
  pid: number;
  address: string;
  port: number;
}

/** `pid` and every process below it. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // The command name is in parentheses and may hold spaces: the parent pid is the second field after it.
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
  }
  const tree: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const next = queue.shift()!;
    tree.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return tree;
}

function ipv4(hex: string): string {
  return [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.');
}

function ipv6(hex: string): string {
  // Four 32-bit words, each in host (little-endian) byte order.
  const bytes = [0, 1, 2, 3].flatMap((word) => [3, 2, 1, 0].map((i) => hex.slice(word * 8 + i * 2, word * 8 + i * 2 + 2)));
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(parseInt(bytes[i]! + bytes[i + 1]!, 16).toString(16));
  return groups.join(':');
}

function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode) inodes.add(inode);
    } catch { /* closed meanwhile */ }
  }
  return inodes;
}

/** Every LISTEN socket held by `rootPid` or its descendants. */
export function listeningSockets(rootPid: number): ListeningSocket[] {
  const sockets: ListeningSocket[] = [];
  for (const pid of processTree(rootPid)) {
    const inodes = socketInodes(pid);
    if (!inodes.size) continue;
    for (const [table, decode] of [['tcp', ipv4], ['tcp6', ipv6]] as const) {
      let text = '';
      try {
        text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n').slice(1)) {
        const fields = line.trim().split(/\s+/);
        const [local, , state] = [fields[1], fields[2], fields[3]];
        if (!local || state !== '0A' || !inodes.has(fields[9] ?? '')) continue;
        const [addressHex = '', portHex = ''] = local.split(':');
        sockets.push({ pid, address: decode(addressHex), port: parseInt(portHex, 16) });
      }
    }
  }
  return sockets;
}
