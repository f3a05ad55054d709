/**
 * vitest globalSetup: starts the run's Redis and S3 containers once (see containers.ts) and hands
 * their addresses to the suites (`inject('testContainers')`; null when the run has none). Says
 * once which path the run takes, and once why when it falls back to the local redis-server and
 * s3rver. The containers are removed when the run ends, failed or not.
 */
import type { TestProject } from 'vitest/node';
import { ContainersUnavailableError, TestContainers, containerMode, engineAnswers, type ContainerAddresses } from './containers.js';

declare module 'vitest' {
  export interface ProvidedContext {
    testContainers: ContainerAddresses | null;
  }
}

const LOCAL_PATH = 'local redis-server and in-process s3rver';

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  project.provide('testContainers', null);
  const mode = containerMode();
  if (mode === 'never') {
    say(`test infrastructure: ${LOCAL_PATH} (WAMEDIA_TEST_CONTAINERS=0)`);
    return undefined;
  }
  if (!(await engineAnswers())) {
    if (mode === 'required') throw new Error('WAMEDIA_TEST_CONTAINERS=1, but no Docker engine answers');
    say(`test infrastructure: no Docker engine answers, falling back to ${LOCAL_PATH}`);
    return undefined;
  }
  let containers: TestContainers;
  try {
    containers = await TestContainers.start();
  } catch (error) {
    if (mode === 'required' || !(error instanceof ContainersUnavailableError)) throw error;
    say(`test infrastructure: ${error.message}; falling back to ${LOCAL_PATH}`);
    return undefined;
  }
  const { redisImage, s3 } = containers.addresses;
  const notes = containers.notes.length > 0 ? ` (${containers.notes.join('; ')})` : '';
  say(`test infrastructure: containers through testcontainers, Redis from ${redisImage}, S3 from ${s3.image}${notes}`);
  project.provide('testContainers', containers.addresses);
  return () => containers.stop();
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}
