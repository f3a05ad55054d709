/**
 * docker-compose.yml as users run it. No Docker engine runs here, so the file is checked the
 * way that can be done offline: `docker-compose config` (Debian's docker-compose package)
 * parses, validates and interpolates it. Skipped, with a message, where that tool is absent.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { allocatorEnv, nodeFlags } from '@wamedia/server';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const available = spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;
if (!available) console.warn('docker-compose not found (apt-get install docker-compose): compose file checks skipped');

function compose(args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync('docker-compose', ['-f', 'docker-compose.yml', ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe.skipIf(!available)('docker-compose.yml', () => {
  const env = { JWT_SECRET: 'a-secret-of-at-least-16-characters' };

  it('is valid once JWT_SECRET is given', () => {
    const result = compose(['config', '-q'], env);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('refuses to start without JWT_SECRET, naming it', () => {
    const result = compose(['config', '-q']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('JWT_SECRET');
  });

  it('runs redis, minio with its bucket, the api and the workers', () => {
    expect(compose(['config', '--services'], env).stdout.trim().split('\n').sort()).toEqual(
      ['api', 'minio', 'minio-init', 'redis', 'worker'].sort(),
    );
  });

  it('gives the worker two replicas, a healthcheck and a stop grace, and nothing that blocks --scale', () => {
    const config = compose(['config'], env).stdout;
    const worker = config.slice(config.indexOf('\n  worker:'));
    expect(worker).toMatch(/replicas: 2/);
    expect(worker).toMatch(/healthcheck:/);
    expect(worker).toMatch(/stop_grace_period: 1m0?s|stop_grace_period: 60s/);
    expect(worker).not.toMatch(/container_name:/);
    expect(worker).not.toMatch(/\n    ports:/);
  });

  it('starts the worker with the node flags pnpm start gives it', () => {
    const config = compose(['config'], env).stdout;
    const worker = config.slice(config.indexOf('\n  worker:'));
    const command = /\n    command:\n((?:    - .*\n)+)/.exec(worker)?.[1];
    const args = command?.split('\n').filter(Boolean).map((line) => line.replace(/^    - /, '').replace(/^"(.*)"$/, '$1'));
    expect(args).toEqual(['node', ...nodeFlags.worker, 'dist/worker.js']);
  });

  it('keeps Redis durable and never evicting', () => {
    const config = compose(['config'], env).stdout;
    expect(config).toMatch(/--appendonly\s+-\s+"?yes"?/);
    expect(config).toMatch(/noeviction/);
  });
});

// Read as text: it needs neither docker-compose nor a Docker build (whose base image cannot be pulled here).
describe('Dockerfile', () => {
  const runtime = readFileSync(`${repoRoot}Dockerfile`, 'utf8').split(/^FROM .* AS runtime$/m)[1] ?? '';

  it('builds the API and worker image with the allocator settings pnpm start gives its processes', () => {
    for (const [name, value] of Object.entries(allocatorEnv)) expect(runtime).toMatch(new RegExp(`^ENV .*\\b${name}=${value}\\b`, 'm'));
  });

  it("starts the image's supervisor with its node flags", () => {
    const command = /^CMD (\[.*\])$/m.exec(runtime)?.[1];
    expect(JSON.parse(command ?? 'null')).toEqual(['node', ...nodeFlags.supervisor, 'dist/start.js']);
  });
});
