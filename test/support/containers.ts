/**
 * Redis and S3 for the test run in containers, through testcontainers (GenericContainer), when a
 * Docker engine answers. Every container runs with host networking on free ports of 127.0.0.1:
 * an engine started with `--bridge=none` (as .ci/run does) has no private network to map ports
 * from, and nothing listens beyond loopback either way.
 *
 * Images come from WAMEDIA_TEST_REDIS_IMAGE and WAMEDIA_TEST_S3_IMAGE. When a default image is
 * neither present nor pullable, the local stand-in that scripts/test-images.sh builds is used.
 */
import { randomBytes } from 'node:crypto';
import { GenericContainer, ImageName, Wait, getContainerRuntimeClient, type StartedTestContainer } from 'testcontainers';
import { freePort } from './free-port.js';

/** WAMEDIA_TEST_CONTAINERS: `auto` uses Docker when an engine answers, `1` requires it, `0` never uses it. */
export type ContainerMode = 'auto' | 'required' | 'never';

export const DEFAULT_REDIS_IMAGE = 'redis:7.4-alpine';
/** The tag docker-compose.yml runs. */
export const DEFAULT_S3_IMAGE = 'minio/minio:RELEASE.2025-09-07T16-13-09Z';
/** Built by scripts/test-images.sh from this host's binaries, without a registry. */
export const LOCAL_REDIS_IMAGE = 'wamedia-test/redis:local';
export const LOCAL_S3_IMAGE = 'wamedia-test/s3rver:local';
/** The label scripts/test-images.sh puts on its images, naming the server inside. */
const SERVER_LABEL = 'org.wamedia.test-server';

/** The S3 server of the run, as the suites reach it (plain data: it crosses into the test workers). */
export interface ContainerS3Address {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** What serves S3 in the container: MinIO, or the s3rver stand-in (with s3rver's quirks). */
  flavour: 'minio' | 's3rver';
  image: string;
}

/** What globalSetup hands the suites: where the run's containers answer. */
export interface ContainerAddresses {
  redisUrl: string;
  redisImage: string;
  s3: ContainerS3Address;
}

/** The engine answers, but the run cannot have its containers (an image missing, a start failing). */
export class ContainersUnavailableError extends Error {}

export function containerMode(env: NodeJS.ProcessEnv = process.env): ContainerMode {
  const value = env.WAMEDIA_TEST_CONTAINERS ?? 'auto';
  if (value === 'auto') return 'auto';
  if (value === '1') return 'required';
  if (value === '0') return 'never';
  throw new Error(`WAMEDIA_TEST_CONTAINERS must be auto, 1 or 0, not ${JSON.stringify(value)}`);
}

/**
 * Whether a Docker engine answers: testcontainers' own look-up (DOCKER_HOST, the socket, the
 * config files), bounded so that a missing engine costs seconds, not a hook timeout.
 */
export async function engineAnswers(timeoutMs = 15_000): Promise<boolean> {
  // Host networking: the containers are reached on loopback, never on a bridge's gateway.
  process.env.TESTCONTAINERS_HOST_OVERRIDE ??= '127.0.0.1';
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  try {
    const answered = getContainerRuntimeClient().then(
      () => true,
      () => false,
    );
    return await Promise.race([answered, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** The run's containers, started; `stop()` removes every one of them. */
export class TestContainers {
  private constructor(
    readonly addresses: ContainerAddresses,
    private readonly started: StartedTestContainer[],
    /** How the run got here, for the one line globalSetup prints. */
    readonly notes: string[],
  ) {}

  /**
   * Starts Redis and S3. Whatever fails part way, the containers already started are removed
   * before the error is rethrown.
   */
  static async start(env: NodeJS.ProcessEnv = process.env): Promise<TestContainers> {
    const notes: string[] = [];
    if (!(await ryukUsable())) notes.push('Ryuk disabled: its image cannot be pulled');
    const started: StartedTestContainer[] = [];
    try {
      const redisImage = await chooseImage(env.WAMEDIA_TEST_REDIS_IMAGE, DEFAULT_REDIS_IMAGE, LOCAL_REDIS_IMAGE, notes);
      const s3Image = await chooseImage(env.WAMEDIA_TEST_S3_IMAGE, DEFAULT_S3_IMAGE, LOCAL_S3_IMAGE, notes);
      // Both settle before anything is judged: a container that starts after the other failed is removed too.
      const [redis, s3] = await Promise.allSettled([startRedis(redisImage), startS3(s3Image)]);
      for (const result of [redis, s3]) if (result.status === 'fulfilled') started.push(result.value.container);
      if (redis.status === 'rejected') throw redis.reason;
      if (s3.status === 'rejected') throw s3.reason;
      return new TestContainers({ redisUrl: redis.value.url, redisImage, s3: s3.value.address }, started, notes);
    } catch (error) {
      await removeAll(started);
      throw error;
    }
  }

  /** Stops and removes every container of the run (each one tried, whatever the others do). */
  async stop(): Promise<void> {
    await removeAll(this.started);
  }
}

async function removeAll(containers: StartedTestContainer[]): Promise<void> {
  const results = await Promise.allSettled(containers.map((container) => container.stop({ remove: true, removeVolumes: true })));
  const failed = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed.length > 0) throw new Error(`could not remove ${failed.length} test container(s): ${String(failed[0]!.reason)}`);
}

/**
 * Ryuk (testcontainers' reaper) removes containers whose test process died; it runs from an
 * image of its own. Where that image is neither present nor pullable it is turned off, and the
 * run removes its containers itself (TestContainers.stop).
 */
async function ryukUsable(): Promise<boolean> {
  if (process.env.TESTCONTAINERS_RYUK_DISABLED === 'true') return false;
  const { REAPER_IMAGE } = await import('testcontainers/build/reaper/reaper.js');
  if (await imageObtainable(REAPER_IMAGE)) return true;
  process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  return false;
}

/**
 * The image to run: the one the variable names (it must be there or pullable), else the default
 * when present or pullable, else the local stand-in when scripts/test-images.sh has built it.
 */
async function chooseImage(configured: string | undefined, fallback: string, standIn: string, notes: string[]): Promise<string> {
  if (configured) {
    if (await imageObtainable(configured)) return configured;
    throw new ContainersUnavailableError(`the image ${configured} is neither present nor pullable`);
  }
  if (await imageObtainable(fallback)) return fallback;
  if (await imageObtainable(standIn, { pull: false })) {
    notes.push(`${fallback} cannot be pulled: using ${standIn}`);
    return standIn;
  }
  throw new ContainersUnavailableError(`${fallback} cannot be pulled and ${standIn} is not built (run scripts/test-images.sh)`);
}

async function imageObtainable(image: string, { pull = true } = {}): Promise<boolean> {
  const client = await getContainerRuntimeClient();
  const name = ImageName.fromString(image);
  if (await client.image.exists(name)) return true;
  if (!pull) return false;
  try {
    await client.image.pull(name);
    return await client.image.exists(name);
  } catch {
    return false;
  }
}

async function imageLabel(image: string, label: string): Promise<string | undefined> {
  const client = await getContainerRuntimeClient();
  const info = await client.image.inspect(ImageName.fromString(image));
  return info.Config?.Labels?.[label];
}

/** A container on the host's network: it must listen on the loopback port it is told. */
function onHostNetwork(image: string): GenericContainer {
  return new GenericContainer(image).withNetworkMode('host').withStartupTimeout(120_000);
}

/** A Redis that keeps nothing, as the local redis-server of the tests does. */
async function startRedis(image: string): Promise<{ container: StartedTestContainer; url: string }> {
  const port = await freePort();
  const container = await onHostNetwork(image)
    .withCommand(['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'])
    .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
    .start();
  return { container, url: `redis://127.0.0.1:${port}` };
}

/**
 * MinIO, or the s3rver stand-in, which takes MinIO's command line and credentials: one way to
 * start either. The stand-in says so with its image's label; its quirks are s3rver's.
 */
async function startS3(image: string): Promise<{ container: StartedTestContainer; address: ContainerS3Address }> {
  const [port, consolePort] = [await freePort(), await freePort()];
  const accessKeyId = 'wamedia-test';
  const secretAccessKey = randomBytes(16).toString('hex');
  const container = await onHostNetwork(image)
    .withEnvironment({ MINIO_ROOT_USER: accessKeyId, MINIO_ROOT_PASSWORD: secretAccessKey })
    .withCommand(['server', '/data', '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`])
    // MinIO prints its API endpoint once it serves; the stand-in prints that it listens.
    .withWaitStrategy(Wait.forLogMessage(/API: |s3rver listening/))
    .start();
  const flavour = (await imageLabel(image, SERVER_LABEL)) === 's3rver' ? 's3rver' : 'minio';
  return {
    container,
    address: { endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', accessKeyId, secretAccessKey, flavour, image },
  };
}
