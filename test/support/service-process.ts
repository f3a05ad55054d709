/**
 * One wamedia process (API or worker) started from its source with `node --import tsx <entry>`,
 * or compiled (`node dist/<name>.js`, as production runs it), with its stdout parsed as pino JSON
 * lines and its stderr captured.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The repository root: processes run from here, as `pnpm start:*` does. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Processes still running: killed if this (the test) process exits without stopping them. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** One pino log line. */
export interface LogLine {
  level: number;
  msg?: string;
  [field: string]: unknown;
}

export interface ServiceProcessOptions {
  /** A name for messages, e.g. "api" or "worker-2". */
  name: string;
  /** Entry file relative to the repository root, e.g. "apps/api/src/main.ts" or "dist/start.js". */
  entry: string;
  /** Run `entry` with plain node, without the TypeScript loader (for compiled entries). */
  compiled?: boolean;
  /** Flags for node itself, before the entry (e.g. V8's heap sizes). */
  nodeFlags?: readonly string[];
  /** The whole environment of the process. */
  env: NodeJS.ProcessEnv;
  /** Copy the process's output to this process's stderr (set WAMEDIA_E2E_ECHO=1 to debug). */
  echo?: boolean;
  /**
   * A command the process is started under, e.g. `['ip', 'netns', 'exec', 'wamedia-ns']` to run
   * it in a network namespace: it must exec node in its place (same pid, same signals).
   */
  launcher?: readonly string[];
  /**
   * Start it as the leader of a process group of its own, so a signal can go to it and every
   * process it starts at once (`process.kill(-pid, ...)`), as a terminal's Ctrl-C does.
   */
  detached?: boolean;
}

export class ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Parsed pino lines of stdout. */
  readonly logs: LogLine[] = [];
  /** stdout lines that were not JSON. */
  readonly otherOutput: string[] = [];
  /** Every stdout line exactly as written, JSON or not (e.g. to search the raw output for secrets). */
  readonly stdoutLines: string[] = [];
  /** Everything written to stderr. */
  stderr = '';
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The exit code once exited; null when a signal ended the process. */
  exitCode: number | null | undefined;
  /** The signal that ended the process, if one did. */
  exitSignal: NodeJS.Signals | null | undefined;

  private readonly logWaiters = new Set<{ test: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();

  constructor(options: ServiceProcessOptions) {
    this.name = options.name;
    const loader = options.compiled ? [] : ['--import', 'tsx'];
    const args = [...(options.nodeFlags ?? []), ...loader, options.entry];
    const [command, ...commandArgs] = [...(options.launcher ?? []), process.execPath, ...args];
    this.child = spawn(command!, commandArgs, {
      cwd: repoRoot,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: options.detached,
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      if (options.echo) process.stderr.write(`[${this.name}] ${line}\n`);
      this.onLine(line);
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      if (options.echo) process.stderr.write(`[${this.name}:stderr] ${chunk}`);
      this.stderr += chunk;
    });
    running.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        running.delete(this.child);
        this.exitCode = code;
        this.exitSignal = signal;
        resolve({ code, signal });
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /**
   * Resolves with the first log line (already logged or to come) matching `test`; rejects when
   * the process exits first or `timeoutMs` passes, with its stderr and last log lines in the message.
   */
  waitForLog(test: (line: LogLine) => boolean, timeoutMs: number, what = 'the expected log line'): Promise<LogLine> {
    const seen = this.logs.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        test,
        resolve: (line: LogLine) => {
          cleanup();
          resolve(line);
        },
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.name} did not log ${what} within ${timeoutMs} ms\n${this.describe()}`));
      }, timeoutMs);
      const onExit = () => {
        cleanup();
        reject(new Error(`${this.name} exited (code ${this.exitCode}) before logging ${what}\n${this.describe()}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.logWaiters.delete(waiter);
        this.child.off('exit', onExit);
      };
      this.logWaiters.add(waiter);
      if (!this.running) onExit();
      else this.child.once('exit', onExit);
    });
  }

  /** Log lines whose msg is `msg`. */
  logsWithMsg(msg: string): LogLine[] {
    return this.logs.filter((line) => line.msg === msg);
  }

  /**
   * Sends `signal` (SIGTERM by default) and waits for the exit; SIGKILLs after `killAfterMs`.
   * Resolves with the exit code (null when killed by a signal).
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', killAfterMs = 15_000): Promise<number | null> {
    if (!this.running) return this.exitCode ?? null;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), killAfterMs);
    const { code } = await this.exited;
    clearTimeout(timer);
    return code;
  }

  /** stderr and the last log lines, for failure messages. */
  describe(lastLines = 20): string {
    const tail = [...this.logs.slice(-lastLines).map((line) => JSON.stringify(line)), ...this.otherOutput.slice(-5)];
    return `--- ${this.name} stderr ---\n${this.stderr || '(empty)'}\n--- ${this.name} last stdout lines ---\n${tail.join('\n') || '(none)'}`;
  }

  private onLine(text: string): void {
    this.stdoutLines.push(text);
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      this.otherOutput.push(text);
      return;
    }
    this.logs.push(line);
    for (const waiter of [...this.logWaiters]) if (waiter.test(line)) waiter.resolve(line);
  }
}
