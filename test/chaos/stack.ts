/**
 * The soak's service: two API processes and three workers on the test's own Redis (AOF on, its
 * own port) and the test's own S3 server (s3rver), pointed at the fake CDN, with webhooks allowed
 * to the test's receiver. The faults take its parts away and bring them back through here.
 */
import type { FakeCdn } from '../support/fake-cdn.js';
import { RedisServer } from '../support/redis-server.js';
import type { ServiceProcess } from '../support/service-process.js';
import { Stack } from '../support/stack.js';

export const API_PROCESSES = 2;
export const WORKER_PROCESSES = 3;
/** Short enough that a killed worker's jobs move on within a sync request's wait. */
export const JOB_LOCK_MS = 5_000;
/** Enough attempts that the CDN's scripted failures and a few resets do not exhaust them. */
export const JOB_ATTEMPTS = 8;
/** Many processes starting at once on a busy machine: a generous readiness deadline. */
const READY_TIMEOUT_MS = 180_000;

/** One of the API processes: restarted in place (on a new port) after a kill. */
export interface ApiSlot {
  process: ServiceProcess;
  url: string;
}

export class ChaosStack {
  readonly apis: ApiSlot[] = [];

  private constructor(
    readonly stack: Stack,
    readonly redis: RedisServer,
  ) {}

  static async start(cdn: FakeCdn, webhookOrigin: string): Promise<ChaosStack> {
    const redis = await RedisServer.start({ appendOnly: true });
    let stack: Stack;
    try {
      stack = await Stack.start({
        storage: 's3',
        api: false,
        workers: 0,
        cdn,
        redisUrl: redis.url,
        readyTimeoutMs: READY_TIMEOUT_MS,
        env: {
          JOB_LOCK_MS: String(JOB_LOCK_MS),
          JOB_ATTEMPTS: String(JOB_ATTEMPTS),
          JOB_BACKOFF_MS: '250',
          WEBHOOK_SECRET: 'chaos-soak-webhook-secret',
          WEBHOOK_ALLOWED_HOSTS: webhookOrigin,
          WEBHOOK_ATTEMPTS: '10',
          LOG_LEVEL: 'info',
        },
      });
    } catch (error) {
      await redis.remove();
      throw error;
    }
    const chaos = new ChaosStack(stack, redis);
    try {
      const starting: Promise<unknown>[] = [];
      for (let i = 0; i < API_PROCESSES; i++) starting.push(chaos.startApi(i));
      for (let i = 0; i < WORKER_PROCESSES; i++) starting.push(stack.startWorker());
      await Promise.all(starting);
    } catch (error) {
      await chaos.stop();
      throw error;
    }
    return chaos;
  }

  /** The workers running now. */
  liveWorkers(): ServiceProcess[] {
    return this.stack.workers.filter((worker) => worker.running);
  }

  /** The API slots whose process runs now. */
  liveApis(): ApiSlot[] {
    return this.apis.filter((slot) => slot.process.running);
  }

  /** Starts the API of slot `index` (again) and resolves once it listens. */
  async startApi(index: number): Promise<ApiSlot> {
    const process = await this.stack.startApi();
    const port = Number(process.logsWithMsg('api listening')[0]?.port);
    const slot = { process, url: `http://127.0.0.1:${port}` };
    this.apis[index] = slot;
    return slot;
  }

  /** SIGKILLs a process and resolves once it is gone. */
  async kill(process: ServiceProcess): Promise<void> {
    process.child.kill('SIGKILL');
    await process.exited;
  }

  /**
   * Brings back whatever is down (an API slot or a worker short, Redis or the S3 server away), so
   * the end checks run on a whole service.
   */
  async heal(): Promise<void> {
    await this.redis.restart();
    const starting: Promise<unknown>[] = [];
    this.apis.forEach((slot, index) => {
      if (!slot.process.running) starting.push(this.startApi(index));
    });
    for (let i = this.liveWorkers().length; i < WORKER_PROCESSES; i++) starting.push(this.stack.startWorker());
    await Promise.all(starting);
  }

  /** Stops everything the soak started: processes, Redis keys and folders, the S3 server, Redis. */
  async stop(): Promise<void> {
    try {
      await this.redis.restart();
      await this.stack.stop();
    } finally {
      await this.redis.remove();
    }
  }
}
