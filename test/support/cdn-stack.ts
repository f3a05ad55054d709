/**
 * The set-up of every end-to-end and fault suite: a fake CDN, a stack pointed at it and an API
 * client for the stack, started before the suite's tests and stopped after them.
 */
import { afterAll, beforeAll } from 'vitest';
import { ApiClient } from './api-client.js';
import { FakeCdn } from './fake-cdn.js';
import { RedisServer, type RedisServerOptions } from './redis-server.js';
import { Stack, type StackOptions } from './stack.js';

export interface CdnStackOptions extends Omit<StackOptions, 'cdn' | 'redisUrl' | 'env'> {
  /**
   * The stack's environment changes (see StackOptions.env), or a function that makes them once
   * the CDN runs: for settings that name the CDN or things that earlier hooks started.
   */
  env?: StackOptions['env'] | ((cdn: FakeCdn) => StackOptions['env']);
  /**
   * Run the stack on a redis-server of its own (started first, removed last), for tests that
   * stop Redis; `true` or that server's options. Default: the shared Redis.
   */
  privateRedis?: true | RedisServerOptions;
  /** Point the stack at the CDN of another handle (started and closed by it) instead of one of its own. */
  cdnOf?: CdnStack;
}

/** What useCdnStack started; each getter throws until the suite's beforeAll has run. */
export interface CdnStack {
  readonly cdn: FakeCdn;
  readonly stack: Stack;
  readonly api: ApiClient;
  /** The stack's own redis-server (with `privateRedis` only). */
  readonly redis: RedisServer;
}

/**
 * Registers a beforeAll that starts a fake CDN (unless `cdnOf`), a private Redis (with
 * `privateRedis`) and a stack pointed at both, and an afterAll that stops them again. Hooks the
 * suite registers after this call run inside that window: vitest runs afterAll hooks in reverse.
 */
export function useCdnStack(options: CdnStackOptions = {}): CdnStack {
  let cdn: FakeCdn | undefined;
  let ownsCdn = false;
  let redis: RedisServer | undefined;
  let stack: Stack | undefined;
  let api: ApiClient | undefined;

  beforeAll(async () => {
    const { privateRedis, cdnOf, env, ...stackOptions } = options;
    if (cdnOf) cdn = cdnOf.cdn;
    else {
      cdn = await FakeCdn.start();
      ownsCdn = true;
    }
    if (privateRedis) redis = await RedisServer.start(privateRedis === true ? {} : privateRedis);
    const stackEnv = typeof env === 'function' ? env(cdn) : env;
    stack = await Stack.start({ ...stackOptions, cdn, redisUrl: redis?.url, env: stackEnv });
    api = new ApiClient(stack);
  });

  afterAll(async () => {
    try {
      // The stack deletes its keys from its Redis on stop: that Redis must be running.
      await redis?.restart();
      await stack?.stop();
    } finally {
      await Promise.all([redis?.remove(), ownsCdn ? cdn?.close() : undefined]);
    }
  });

  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`no ${what}: useCdnStack's beforeAll has not run or failed`);
    return value;
  };
  return {
    get cdn() {
      return started(cdn, 'CDN');
    },
    get stack() {
      return started(stack, 'stack');
    },
    get api() {
      return started(api, 'API client');
    },
    get redis() {
      return started(redis, 'private Redis');
    },
  };
}
