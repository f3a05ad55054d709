/**
 * Memory of live processes, read from Linux's /proc: VmHWM (peak RSS of one process's own
 * address space) and the RSS of a whole process tree.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

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

/** The command line of `pid`, shortened for a report (e.g. "node dist/api.js"). */
function commandOf(pid: number): string {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return args.map((arg, i) => (i === 0 ? path.basename(arg) : arg)).join(' ').slice(0, 80);
  } catch {
    return `pid ${pid}`;
  }
}

export interface TreeRssSample {
  /** The highest sum over the tree seen, in bytes. */
  maxBytes: number;
  /** Each process's highest RSS seen, in bytes, keyed "<pid> <command>". */
  perProcess: Record<string, number>;
}

/** Samples the RSS of `root` and its descendants every `intervalMs` until stopped. */
export function sampleTreeRss(root: number, intervalMs = 100): { stop(): TreeRssSample } {
  const sample: TreeRssSample = { maxBytes: 0, perProcess: {} };
  const names = new Map<number, string>();
  const take = () => {
    let sum = 0;
    for (const pid of processTree(root)) {
      const rss = currentRss(pid);
      sum += rss;
      if (!names.has(pid)) names.set(pid, `${pid} ${commandOf(pid)}`);
      const name = names.get(pid)!;
      sample.perProcess[name] = Math.max(sample.perProcess[name] ?? 0, rss);
    }
    sample.maxBytes = Math.max(sample.maxBytes, sum);
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return sample;
    },
  };
}
