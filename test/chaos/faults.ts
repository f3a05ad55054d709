/**
 * The soak's faults, drawn from the seed one after another until stopped: a worker or an API
 * process SIGKILLed and started again, Redis restarted, the S3 server restarted, the CDN's
 * connections reset. Each fault is over (its part back and ready) before the next is drawn, a
 * few seconds later. Every fault is logged with its time, for the checks that excuse what it cut.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { CdnRequest, FakeCdn } from '../support/fake-cdn.js';
import type { ChaosStack } from './stack.js';
import type { Prng } from './prng.js';

export type FaultKind = 'worker-kill' | 'api-kill' | 'redis-restart' | 's3-restart' | 'cdn-reset';

const WEIGHTS: Record<FaultKind, number> = {
  'worker-kill': 30,
  'api-kill': 20,
  'cdn-reset': 30,
  'redis-restart': 10,
  's3-restart': 10,
};

export interface Fault {
  kind: FaultKind;
  /** When it struck (Date.now()). */
  at: number;
  /** When its part was back (Date.now()). */
  over: number;
  /** The process killed (worker-kill, api-kill). */
  process?: string;
  /** The CDN paths whose responses it cut (cdn-reset). */
  cutPaths?: string[];
}

export class FaultInjector {
  readonly faults: Fault[] = [];
  private running: Promise<void> | undefined;
  private stopping = false;

  constructor(
    private readonly chaos: ChaosStack,
    private readonly cdn: FakeCdn,
    private readonly prng: Prng,
  ) {}

  /** Starts injecting: a first fault after a few seconds, then one every 1 to 7 s. */
  start(): void {
    this.running = this.loop();
  }

  /** Stops drawing faults and resolves once the one in progress is over. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
  }

  /** Faults of one kind. */
  count(kind: FaultKind): number {
    return this.faults.filter((fault) => fault.kind === kind).length;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      await this.sleepUnlessStopping(this.prng.int(1_000, 7_000));
      if (this.stopping) return;
      const kind = this.prng.weighted(WEIGHTS);
      const at = Date.now();
      const detail = await this.inject(kind);
      this.faults.push({ kind, at, over: Date.now(), ...detail });
    }
  }

  private async inject(kind: FaultKind): Promise<Partial<Fault>> {
    const { chaos } = this;
    switch (kind) {
      case 'worker-kill': {
        const worker = this.prng.pick(chaos.liveWorkers());
        await chaos.kill(worker);
        await chaos.stack.startWorker();
        return { process: worker.name };
      }
      case 'api-kill': {
        const index = this.prng.int(0, chaos.apis.length - 1);
        const { process } = chaos.apis[index]!;
        await chaos.kill(process);
        await chaos.startApi(index);
        return { process: process.name };
      }
      case 'redis-restart':
        await chaos.redis.stop();
        await delay(this.prng.int(500, 3_000));
        await chaos.redis.restart(30_000);
        return {};
      case 's3-restart':
        await chaos.stack.stopS3rver();
        await delay(this.prng.int(500, 3_000));
        await chaos.stack.restartS3rver();
        return {};
      case 'cdn-reset': {
        const cut: CdnRequest[] = this.cdn.resetConnections();
        return { cutPaths: [...new Set(cut.map((request) => request.pathname))] };
      }
    }
  }

  private async sleepUnlessStopping(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (!this.stopping && Date.now() < until) await delay(Math.min(250, until - Date.now()));
  }
}
