/**
 * Memory of live processes, read from Linux's /proc: VmHWM (peak RSS of one process's own
 * address space) and the RSS of a whole process tree.
 */
import { readdirSync, readFileSync } from 'node:fs';

export const MiB = 1024 * 1024;

/** VmHWM of `pid` in bytes: its peak RSS since it started. */
export function peakRss(pid: number): number {
  return statusField(pid, 'VmHWM');
}

/** VmRSS of `pid` in bytes; 0 when the process is gone. */
export function currentRss(pid: number): number {
  try {
    return statusField(pid, 'VmRSS');
  } catch {
    return 0;
  }
}

function statusField(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kiB = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
  if (kiB === undefined) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(kiB) * 1024;
}

/** `root` and every process descending from it, from the parent pids in /proc/<pid>/stat. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // The command name (field 2) may hold spaces and parentheses: the ppid is after the last ")".
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const tree: number[] = [];
  for (const pending = [root]; pending.length > 0; ) {
    const pid = pending.pop()!;
    tree.push(pid);
    pending.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** Sum of the current RSS of `root` and its descendants, in bytes. */
export function treeRss(root: number): number {
  return processTree(root).reduce((sum, pid) => sum + currentRss(pid), 0);
}

/** Samples `treeRss(root)` every `intervalMs` until stopped; `stop()` returns the highest sum seen. */
export function sampleTreeRss(root: number, intervalMs = 100): { stop(): number } {
  let max = treeRss(root);
  const timer = setInterval(() => (max = Math.max(max, treeRss(root))), intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(max, treeRss(root));
    },
  };
}
