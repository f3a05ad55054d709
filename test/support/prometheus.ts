/**
 * Reads Prometheus exposition text (what /metrics answers) into samples, so tests can ask for
 * one series by name and labels, or sum a family, and compare scrapes taken before and after.
 */
import { request } from 'undici';

/** One sample line: `name{label="value",...} value`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of one scrape. */
export class Metrics {
  constructor(
    readonly samples: Sample[],
    /** The exposition text as received, for failure messages. */
    readonly text: string,
  ) {}

  /** GETs `url` (a /metrics endpoint) and parses it; throws unless it answers 200. */
  static async scrape(url: string): Promise<Metrics> {
    const response = await request(url);
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`GET ${url} answered HTTP ${response.statusCode}: ${text.slice(0, 300)}`);
    return Metrics.parse(text);
  }

  static parse(text: string): Metrics {
    const samples: Sample[] = [];
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
      if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
      const labels: Record<string, string> = {};
      for (const label of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
        labels[label[1]!] = label[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      }
      samples.push({ name: match[1]!, labels, value: Number(match[3]) });
    }
    return new Metrics(samples, text);
  }

  /** The samples named `name` whose labels include every one of `labels`. */
  find(name: string, labels: Record<string, string> = {}): Sample[] {
    return this.samples.filter(
      (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
    );
  }

  /** Whether any sample is named `name` (with `labels`). */
  has(name: string, labels: Record<string, string> = {}): boolean {
    return this.find(name, labels).length > 0;
  }

  /** The sum of the matching samples; 0 when none match. */
  sum(name: string, labels: Record<string, string> = {}): number {
    return this.find(name, labels).reduce((total, sample) => total + sample.value, 0);
  }
}

/** The wamedia_waiting_requests gauge of the API at `baseUrl`: requests waiting for their job. */
export async function waitingRequests(baseUrl: string): Promise<number> {
  const metrics = await Metrics.scrape(`${baseUrl}/metrics`);
  if (!metrics.has('wamedia_waiting_requests')) throw new Error(`no wamedia_waiting_requests in /metrics:\n${metrics.text}`);
  return metrics.sum('wamedia_waiting_requests');
}
