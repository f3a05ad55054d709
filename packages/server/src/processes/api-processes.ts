import type { ChildProcess } from 'node:child_process';
import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

/**
 * Several API processes on one port, for the cores one process cannot use (a cache hit is bound
 * to the core of the process serving it). node:cluster makes them share the listening socket;
 * the process that forked them (`pnpm start`) sums their metrics, so a scrape of /metrics, which
 * any of them may answer, counts every process's requests, not one process's at random.
 */

const METRICS_REQUEST = 'wamedia:metrics-request';
const METRICS_ANSWER = 'wamedia:metrics-answer';
/** Longer than prom-client's own 5 s for gathering the processes' metrics. */
const METRICS_TIMEOUT_MS = 6_000;

interface MetricsAnswer {
  type: typeof METRICS_ANSWER;
  id: number;
  text?: string;
  error?: string;
}

/** Forks `count` API processes running `entry` with `execArgv` and `env`; this process answers their metrics requests. */
export function forkApiProcesses(entry: string, count: number, execArgv: readonly string[], env: NodeJS.ProcessEnv): ChildProcess[] {
  cluster.setupPrimary({ exec: entry, execArgv: [...execArgv] });
  answerMetricsRequests();
  return Array.from({ length: count }, () => cluster.fork(env).process);
}

let answering = false;

function answerMetricsRequests(): void {
  if (answering) return;
  answering = true;
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: { type?: unknown; id?: unknown }) => {
    if (message?.type !== METRICS_REQUEST || typeof message.id !== 'number') return;
    const answer = (fields: Partial<MetricsAnswer>) => worker.send({ type: METRICS_ANSWER, id: message.id, ...fields });
    aggregator.clusterMetrics().then(
      (text) => answer({ text }),
      (error: Error) => answer({ error: error.message }),
    );
  });
}

/**
 * The Prometheus text of every API process: `registry`'s own when this process runs alone, else
 * the sum of all of them, gathered by the process that forked them.
 */
export function sharedMetrics(registry: Registry): { render(): Promise<string> } {
  if (!cluster.isWorker) return { render: () => registry.metrics() };
  // Constructed for its side effect: it makes this process answer the aggregator with `registry`.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  return { render: gatherFromPrimary };
}

let nextId = 0;

function gatherFromPrimary(): Promise<string> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const onMessage = (message: MetricsAnswer) => {
      if (message?.type !== METRICS_ANSWER || message.id !== id) return;
      settle();
      if (message.text !== undefined) resolve(message.text);
      else reject(new Error(`the API processes' metrics could not be gathered: ${message.error}`));
    };
    const timer = setTimeout(() => {
      settle();
      reject(new Error(`the API processes' metrics did not arrive within ${METRICS_TIMEOUT_MS} ms`));
    }, METRICS_TIMEOUT_MS);
    const settle = () => {
      clearTimeout(timer);
      process.off('message', onMessage);
    };
    process.on('message', onMessage);
    process.send!({ type: METRICS_REQUEST, id });
  });
}
