/**
 * Memory of live processes, read from Linux's /proc: VmHWM (peak RSS of one process's own
 * address space) and the memory of a whole process tree.
 *
 * A tree's memory is the sum of its processes' PSS, not of their RSS: every node process maps the
 * same ~40 MiB of node's own binary and libraries, and RSS counts those shared pages once per
 * process, five times over for `pnpm start`'s tree. PSS counts each page once, split between the
 * processes sharing it, so the sum is what the tree really occupies.
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

/** Pss of `pid` in bytes (see above); 0 when the process is gone. */
export function currentPss(pid: number): number {
  try {
    return kiBField(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss', pid);
  } catch {
    return 0;
  }
}

function statusField(pid: number, field: string): number {
  return kiBField(readFileSync(`/proc/${pid}/status`, 'utf8'), field, pid);
}

function kiBField(text: string, field: string, pid: number): number {
  const kiB = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1];
  if (kiB === undefined) throw new Error(`no ${field} in /proc/${pid}`);
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

/** The command line of `pid`, shortened for a report (e.g. "node dist/api.js"). */
function commandOf(pid: number): string {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return args.map((arg, i) => (i === 0 ? path.basename(arg) : arg)).join(' ').slice(0, 80);
  } catch {
    return `pid ${pid}`;
  }
}

export interface TreeMemorySample {
  /** The highest PSS sum over the tree seen, in bytes: what the tree occupies. */
  maxBytes: number;
  /** The highest RSS sum seen, in bytes, for comparison (it counts shared pages once per process). */
  maxRssSumBytes: number;
  /** Each process's highest PSS seen, in bytes, keyed "<pid> <command>". */
  perProcess: Record<string, number>;
}

/** Samples the memory of `root` and its descendants every `intervalMs` until stopped. */
export function sampleTreeMemory(root: number, intervalMs = 100): { stop(): TreeMemorySample } {
  const sample: TreeMemorySample = { maxBytes: 0, maxRssSumBytes: 0, perProcess: {} };
  const names = new Map<number, string>();
  const take = () => {
    let pssSum = 0;
    let rssSum = 0;
    for (const pid of processTree(root)) {
      const pss = currentPss(pid);
      pssSum += pss;
      rssSum += currentRss(pid);
      if (!names.has(pid)) names.set(pid, `${pid} ${commandOf(pid)}`);
      const name = names.get(pid)!;
      sample.perProcess[name] = Math.max(sample.perProcess[name] ?? 0, pss);
    }
    sample.maxBytes = Math.max(sample.maxBytes, pssSum);
    sample.maxRssSumBytes = Math.max(sample.maxRssSumBytes, rssSum);
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
