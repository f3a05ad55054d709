import { mkdir } from 'node:fs/promises';
import { constants } from 'node:os';
import path from 'node:path';
import { DEFAULT_BATCH_MAX_ITEMS } from '@wamedia/shared';
import { apiClientFlags, apiClientFromFlags, apiClientUsage } from '../api-client-flags.js';
import { BatchRunner } from '../batch/batch-runner.js';
import { readInputLines } from '../batch/input-lines.js';
import { Manifest } from '../batch/manifest.js';
import { removeStaleTemporaryFiles, removeTemporaryFilesSync } from '../batch/media-file.js';
import { Progress } from '../batch/progress.js';
import { integerFlag, parseFlagsAndOne, required } from '../flags.js';

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
${apiClientUsage}
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
  const client = apiClientFromFlags(flags);
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
      ...apiClientFlags,
      concurrency: { type: 'string' },
      'chunk-size': { type: 'string' },
      'poll-interval': { type: 'string' },
    },
    'input file',
  );
  return { input: positional, flags: values };
}

/** 128 + the signal's number, as shells report a process a signal stopped: 130 for SIGINT. */
function exitStatus(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}
