import { mkdir } from 'node:fs/promises';
import { constants } from 'node:os';
import path from 'node:path';
import { WamediaClient } from '@wamedia/client';
import { DEFAULT_BATCH_MAX_ITEMS } from '@wamedia/shared';
import { BatchRunner } from '../batch/batch-runner.js';
import { readInputLines } from '../batch/input-lines.js';
import { Manifest } from '../batch/manifest.js';
import { removeStaleTemporaryFiles, removeTemporaryFilesSync } from '../batch/media-file.js';
import { Progress } from '../batch/progress.js';
import { instanceIdFromToken } from '../batch/token-claims.js';
import { UsageError, parseFlagsAndOne, required } from '../flags.js';

export const usage = `Usage: wamedia batch <input.jsonl> --out <dir> [options]

Downloads many media through a wamedia API: submits them in batches, saves each file as
<dir>/<id>.<ext> as soon as it is ready (verified against its SHA-256), and records every item
in <dir>/manifest.jsonl. Run it again to resume: items already saved are skipped.

Each input line is one media reference, either
  - the body of directly-download with an id: {"id","contentType","content":{...}}, or
  - a WhatsApp message as Baileys or an Evolution API webhook delivers it:
    {"key":{"id"},"message":{"imageMessage":{...}}} or {"data":{"key","message"}}
    (image, video, gif, audio, ptt, document, sticker and ptv messages, also inside
    ephemeral, view-once and document-with-caption wrappers).
The id is the line's own (id, else key.id), else its line number.

Options:
  --out <dir>               where the files and manifest.jsonl go (created if needed)
  --url <url>               the API (default: WAMEDIA_URL, else http://localhost:8083)
  --token <jwt>             bearer token (default: WAMEDIA_TOKEN)
  --instance <id>           the instance (default: the token's instanceId claim)
  --concurrency <n>         files downloaded at once, 1-64 (default 8)
  --chunk-size <n>          items per batch request, 1-${DEFAULT_BATCH_MAX_ITEMS} (default ${DEFAULT_BATCH_MAX_ITEMS})
  --poll-interval <ms>      pause between two polls of a batch (default 1000)
  -h, --help                show this help

Progress goes to stderr. Ctrl-C (or SIGTERM) stops cleanly: files being written are dropped,
the manifest keeps what finished, exit status 130 (143). Exit status 1 when any item failed or
was invalid (the manifest says why).
`;

/** `wamedia batch`: a JSONL of media references in, a folder of verified files and a manifest out. */
export async function run(args: string[]): Promise<void> {
  const { input, flags } = parseBatchArgs(args);
  const token = flags.token ?? process.env.WAMEDIA_TOKEN;
  if (!token) throw new UsageError('missing --token (or WAMEDIA_TOKEN)');
  const instanceId = flags.instance ?? instanceIdFromToken(token);
  if (!instanceId) throw new UsageError('missing --instance (the token carries no instanceId claim)');
  const baseUrl = flags.url ?? process.env.WAMEDIA_URL ?? 'http://localhost:8083';
  if (!/^https?:\/\/[^/]/.test(baseUrl)) throw new UsageError(`--url: must be an http(s) URL (got "${baseUrl}")`);
  const concurrency = integerFlag(flags.concurrency, '--concurrency', 8, 1, 64);
  const chunkSize = integerFlag(flags['chunk-size'], '--chunk-size', DEFAULT_BATCH_MAX_ITEMS, 1, DEFAULT_BATCH_MAX_ITEMS);
  const pollIntervalMs = integerFlag(flags['poll-interval'], '--poll-interval', 1000, 10, 60_000);
  const outDir = path.resolve(required(flags.out, '--out'));

  const lines = await readInputLines(input);
  await mkdir(outDir, { recursive: true });
  await removeStaleTemporaryFiles(outDir);
  const manifest = await Manifest.open(outDir);
  const progress = new Progress(process.stderr, { total: lines.length });
  const stop = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stoppedBy) {
      // A second Ctrl-C: leave now, and still leave no half-written file behind.
      removeTemporaryFilesSync();
      manifest.closeSync();
      process.exit(exitStatus(signal));
    }
    stoppedBy = signal;
    progress.note(`wamedia batch: ${signal === 'SIGINT' ? 'interrupted' : signal}: stopping (Ctrl-C again to quit at once)`);
    stop.abort(new Error(`stopped by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const client = new WamediaClient({ baseUrl, token, instanceId });
  const runner = new BatchRunner({ client, outDir, manifest, progress, concurrency, chunkSize, pollIntervalMs, signal: stop.signal });
  progress.start();
  try {
    await runner.run(lines);
  } finally {
    progress.stop();
    await manifest.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  if (stoppedBy) {
    const left = lines.length - progress.completed - progress.skipped - progress.failed;
    process.stderr.write(`wamedia batch: stopped with ${left} item(s) left; run the same command again to resume\n`);
    process.exit(exitStatus(stoppedBy));
  }
  if (progress.failed > 0) {
    throw new Error(`${progress.failed} of ${lines.length} item(s) failed or are invalid (see ${manifest.file})`);
  }
}

function parseBatchArgs(args: string[]) {
  const { values, positional } = parseFlagsAndOne(
    args,
    {
      out: { type: 'string' },
      url: { type: 'string' },
      token: { type: 'string' },
      instance: { type: 'string' },
      concurrency: { type: 'string' },
      'chunk-size': { type: 'string' },
      'poll-interval': { type: 'string' },
    },
    'input file',
  );
  return { input: positional, flags: values };
}

function integerFlag(value: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const number = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(number >= min && number <= max)) throw new UsageError(`${flag}: must be a whole number from ${min} to ${max} (got "${value}")`);
  return number;
}

/** 128 + the signal's number, as shells report a process a signal stopped: 130 for SIGINT. */
function exitStatus(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}
