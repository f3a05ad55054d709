/**
 * Every S3 server the storage suites can start in this run: s3rver in this process always, and
 * the S3 of the run's containers (MinIO, or the s3rver stand-in) when it has them. Each comes
 * with its quirks (see S3RVER_QUIRKS): a suite works around a quirk only for a server that has it.
 */
import { inject } from 'vitest';
import { ContainerS3, InProcessS3rver, runS3Server, S3RVER_QUIRKS, type S3Quirks, type S3Server } from '../support/s3-server.js';

export interface S3ServerCase {
  label: string;
  quirks: Readonly<S3Quirks>;
  /** Starts the server (in process, over `dir`) or connects to it (a container). */
  start(dir: string): Promise<S3Server>;
}

/** The servers to run against, and why one the suites know of is left out of this run. */
export function s3ServerCases(): { cases: S3ServerCase[]; missing: string[] } {
  const cases: S3ServerCase[] = [{ label: 's3rver in process', quirks: S3RVER_QUIRKS, start: (dir) => InProcessS3rver.start(dir) }];
  const missing: string[] = [];
  const address = inject('testContainers')?.s3;
  if (address) cases.push({ ...runS3Server(), start: async () => new ContainerS3(address) });
  else missing.push('S3 in a container (this run has no containers: see WAMEDIA_TEST_CONTAINERS)');
  return { cases, missing };
}
