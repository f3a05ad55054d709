import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const recorder = fileURLToPath(new URL('./module-recorder.mjs', import.meta.url));
const testDir = fileURLToPath(new URL('../', import.meta.url));

/**
 * Every module (as a file: or node: URL) a fresh Node process loads when it imports `specifier`,
 * the way a user's app would: in a process of its own, with tsx to read the workspace's
 * TypeScript. `specifier` resolves from the test package (a package name it depends on, or a
 * file: URL).
 */
export async function loadedModules(specifier: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--import', recorder, '-e', ''], {
    cwd: testDir,
    env: { ...process.env, WAMEDIA_RECORD_IMPORT: specifier },
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout) as string[];
}

/** The npm packages among `urls`, by name (`@scope/name` or `name`), from pnpm's node_modules layout. */
export function packagesAmong(urls: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const url of urls) {
    const match = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    if (match) names.add(match[1]!);
  }
  return names;
}
