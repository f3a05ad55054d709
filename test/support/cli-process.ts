/**
 * The `wamedia` command line as a real process, run from the repository root the way
 * `pnpm wamedia` runs it: for the CLI's own tests and the end-to-end ones.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { MANIFEST_NAME, type ManifestEntry } from '../../apps/cli/src/batch/manifest.js';
import { repoRoot } from './service-process.js';

export type { ManifestEntry };

/** How a run of the CLI ended, with everything it printed. */
export interface CliRun {
  /** The exit status; null when a signal ended the process. */
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export interface CliOptions {
  /** The whole environment of the process (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Bytes written to its stdin, which is then closed (default: closed at once). */
  stdin?: Buffer;
}

/** Starts `wamedia <args>`: the process, to signal, and its run, which resolves when it exits. */
export function startCli(args: string[], options: CliOptions = {}): { child: ChildProcess; done: Promise<CliRun> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'apps/cli/src/main.ts', ...args], {
    cwd: repoRoot,
    env: options.env ?? process.env,
  });
  const stdout: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end(options.stdin);
  const done = new Promise<CliRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(stdout), stderr }));
  });
  return { child, done };
}

/** Runs `wamedia <args>` to its end. */
export function runCli(args: string[], options?: CliOptions): Promise<CliRun> {
  return startCli(args, options).done;
}

/** The entries of the manifest that `wamedia batch` keeps in `outDir`, in file order; none before it exists. */
export async function readManifest(outDir: string): Promise<ManifestEntry[]> {
  let text: string;
  try {
    text = await readFile(path.join(outDir, MANIFEST_NAME), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as ManifestEntry);
}
