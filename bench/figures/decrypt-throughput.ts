/**
 * P1: how close the DecryptStream comes to the raw crypto it is built on, and (for
 * `pnpm bench:crypto` only) how much memory it needs for a big file.
 *
 * 1. Throughput: 256 MiB of random plaintext is encrypted once; each of the four primitives a
 *    download needs (AES-256-CBC decrypt, HMAC-SHA256, SHA-256 of the ciphertext, SHA-256 of the
 *    plaintext) is timed alone over 64 KiB chunks, and their summed time is the limit that one
 *    thread doing all four can reach. The DecryptStream gets the same chunks through a real
 *    pipeline, from a Readable to a discarding Writable. Goal: stream throughput ≥ 0.85 × limit.
 * 2. Memory: a 1 GiB .enc written to a temp dir by the EncryptStream is decrypted from disk in a
 *    child process, which reports its peak RSS. Goal: ≤ 100 MiB. The child runs this file compiled
 *    to JavaScript on plain node: tsx's loader alone (a second V8 isolate for its hooks thread)
 *    costs ~30 MiB, which would measure the dev tooling rather than the stream.
 */
import { spawn } from 'node:child_process';
import { createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createDecryptStream, MAC_LENGTH, type DecryptOptions } from '../../packages/shared/src/media/decrypt-stream.js';
import { createEncryptStream, encryptMedia } from '../../packages/shared/src/media/encrypt-stream.js';
import { expandMediaKey } from '../../packages/shared/src/media/media-keys.js';
import { scaled, type Figure } from '../support/figure.js';

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;
const THROUGHPUT_BYTES = scaled(256 * MiB / CHUNK) * CHUNK;
const RSS_FILE_BYTES = scaled(1024 * MiB / CHUNK) * CHUNK;
const RUNS = 3;
const RATIO_GOAL = 0.85;
const RSS_GOAL = 100 * MiB;
const RSS_CHILD_FLAG = '--measure-rss';

const benchFile = fileURLToPath(import.meta.url);
const repoRoot = path.resolve(path.dirname(benchFile), '../..');

function splitEvery(bytes: Buffer, size: number): Buffer[] {
  const pieces: Buffer[] = [];
  for (let start = 0; start < bytes.length; start += size) pieces.push(bytes.subarray(start, start + size));
  return pieces;
}

/** A Writable that drops everything: the bench measures decryption, not a destination. */
function discard(): Writable {
  return new Writable({ write: (_chunk, _encoding, callback) => callback() });
}

// ---- 1. Throughput -----------------------------------------------------------------------

export interface Row {
  name: string;
  ms: number;
}

interface Measurement {
  name: string;
  run: () => unknown;
}

/**
 * The best of {@link RUNS} timings of each measurement, in milliseconds. Rounds interleave the
 * measurements and follow an untimed warm-up round, so that JIT warm-up and the state of the heap
 * (fresh pages for the decipher's output) do not favour whichever runs last.
 */
async function bestTimes(measurements: Measurement[]): Promise<Row[]> {
  const best = measurements.map(({ name }) => ({ name, ms: Infinity }));
  for (let round = 0; round <= RUNS; round++) {
    for (const [i, { run }] of measurements.entries()) {
      const start = performance.now();
      await run();
      if (round > 0) best[i]!.ms = Math.min(best[i]!.ms, performance.now() - start);
    }
  }
  return best;
}

export async function measureThroughput(): Promise<{ rows: Row[]; ratio: number }> {
  const plaintext = randomBytes(THROUGHPUT_BYTES);
  const options: DecryptOptions = { contentType: 'video', mediaKey: randomBytes(32) };
  const { enc, fileSha256, fileEncSha256, fileLength } = encryptMedia(plaintext, options);
  const { iv, cipherKey, macKey } = expandMediaKey(options.mediaKey, options.contentType);
  const ciphertext = enc.subarray(0, enc.length - MAC_LENGTH);
  const plainChunks = splitEvery(plaintext, CHUNK);
  const cipherChunks = splitEvery(ciphertext, CHUNK);
  const encChunks = splitEvery(enc, CHUNK);

  const [stream, ...primitives] = await bestTimes([
    {
      name: 'DecryptStream in a pipeline',
      run: async () => {
        const decryptor = createDecryptStream({ ...options, fileSha256, fileEncSha256, fileLength });
        await pipeline(Readable.from(encChunks), decryptor, discard());
        if (!decryptor.result) throw new Error('the DecryptStream did not verify the media');
      },
    },
    {
      name: 'AES-256-CBC decrypt',
      run: () => {
        const decipher = createDecipheriv('aes-256-cbc', cipherKey, iv);
        for (const chunk of cipherChunks) decipher.update(chunk);
        decipher.final();
      },
    },
    {
      name: 'HMAC-SHA256 (iv || ciphertext)',
      run: () => {
        const hmac = createHmac('sha256', macKey).update(iv);
        for (const chunk of cipherChunks) hmac.update(chunk);
        hmac.digest();
      },
    },
    { name: 'SHA-256 of the ciphertext', run: () => hashChunks(cipherChunks) },
    { name: 'SHA-256 of the plaintext', run: () => hashChunks(plainChunks) },
  ]);
  const limit = { name: 'limit (sum of the four)', ms: primitives.reduce((sum, row) => sum + row.ms, 0) };
  return { rows: [...primitives, limit, stream!], ratio: limit.ms / stream!.ms };
}

function hashChunks(chunks: Buffer[]): Buffer {
  const hash = createHash('sha256');
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest();
}

export function printThroughput(rows: Row[]): void {
  console.log(`\nThroughput over ${THROUGHPUT_BYTES / MiB} MiB in ${CHUNK / 1024} KiB chunks, best of ${RUNS}:`);
  console.table(
    rows.map(({ name, ms }) => ({
      step: name,
      'best (ms)': Math.round(ms),
      'MiB/s': Math.round(THROUGHPUT_BYTES / MiB / (ms / 1000)),
    })),
  );
}

// ---- 2. Peak RSS -------------------------------------------------------------------------

export interface RssReport {
  /** Peak RSS once the modules are loaded, before the first byte is read. */
  baselineBytes: number;
  peakBytes: number;
  seconds: number;
}

/** Writes a 1 GiB .enc by streaming, so the parent never holds the file either. */
async function writeBigEnc(file: string): Promise<DecryptOptions> {
  const block = randomBytes(MiB);
  const chunksPerBlock = MiB / CHUNK;
  let index = 0;
  const source = new Readable({
    read() {
      if (index * CHUNK >= RSS_FILE_BYTES) return void this.push(null);
      const offset = (index++ % chunksPerBlock) * CHUNK;
      this.push(block.subarray(offset, offset + CHUNK));
    },
  });
  const encryptor = createEncryptStream({ contentType: 'document' });
  await pipeline(source, encryptor, createWriteStream(file));
  const { mediaKey, fileSha256, fileEncSha256, fileLength } = encryptor.result!;
  return { contentType: 'document', mediaKey, fileSha256, fileEncSha256, fileLength };
}

export async function measurePeakRss(): Promise<RssReport> {
  const dir = await mkdtemp(path.join(tmpdir(), 'wamedia-bench-'));
  try {
    const file = path.join(dir, 'big.enc');
    const options = await writeBigEnc(file);
    const compiledBench = await compileBench(path.join(dir, 'compiled'));
    return await runRssChild(compiledBench, file, options);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Compiles this file and every module it reaches through relative imports to JavaScript under
 * `outDir`, keeping their places relative to the repo; returns the compiled bench.
 */
async function compileBench(outDir: string): Promise<string> {
  const { default: ts } = await import('typescript');
  const compilerOptions = { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true };
  const compiledPath = (source: string) => path.join(outDir, path.relative(repoRoot, source)).replace(/\.ts$/, '.js');
  const pending = [benchFile];
  const seen = new Set<string>();
  for (let source = pending.pop(); source; source = pending.pop()) {
    if (seen.has(source)) continue;
    seen.add(source);
    const code = await readFile(source, 'utf8');
    for (const [, specifier] of code.matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)) {
      pending.push(path.resolve(path.dirname(source), `${specifier}.ts`));
    }
    await mkdir(path.dirname(compiledPath(source)), { recursive: true });
    await writeFile(compiledPath(source), ts.transpileModule(code, { compilerOptions }).outputText);
  }
  await writeFile(path.join(outDir, 'package.json'), '{"type":"module"}');
  return compiledPath(benchFile);
}

/** Decrypts `file` in a fresh process, so that only the decryption shows in its peak RSS. */
function runRssChild(compiledBench: string, file: string, options: DecryptOptions): Promise<RssReport> {
  const serialized = JSON.stringify({
    ...options,
    mediaKey: Buffer.from(options.mediaKey).toString('base64'),
    fileSha256: Buffer.from(options.fileSha256!).toString('base64'),
    fileEncSha256: Buffer.from(options.fileEncSha256!).toString('base64'),
  });
  const child = spawn(process.execPath, [compiledBench, RSS_CHILD_FLAG, file, serialized], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (data: Buffer) => (output += data.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(output) as RssReport) : reject(new Error(`RSS child exited with ${code}`)),
    );
  });
}

/**
 * This process's peak RSS. Not resourceUsage().maxRSS: Linux carries the parent's high-water
 * mark over into a spawned child, which would charge the bench's 512 MiB of buffers to it.
 * VmHWM belongs to the process's own address space.
 */
function peakRssBytes(): number {
  const status = process.platform === 'linux' ? readFileSync('/proc/self/status', 'utf8') : '';
  const vmHwmKiB = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
  return (vmHwmKiB ? Number(vmHwmKiB) : process.resourceUsage().maxRSS) * 1024;
}

/** The child's side: decrypt from disk to nowhere, then report on stdout. */
async function rssChild(file: string, serialized: string): Promise<void> {
  const parsed = JSON.parse(serialized) as Record<string, unknown>;
  const options: DecryptOptions = {
    contentType: parsed.contentType as DecryptOptions['contentType'],
    mediaKey: Buffer.from(parsed.mediaKey as string, 'base64'),
    fileSha256: Buffer.from(parsed.fileSha256 as string, 'base64'),
    fileEncSha256: Buffer.from(parsed.fileEncSha256 as string, 'base64'),
    fileLength: parsed.fileLength as number,
  };
  const baselineBytes = peakRssBytes();
  const start = performance.now();
  const decryptor = createDecryptStream(options);
  await pipeline(createReadStream(file), decryptor, discard());
  if (!decryptor.result) throw new Error('the DecryptStream did not verify the media');
  const report: RssReport = { baselineBytes, peakBytes: peakRssBytes(), seconds: (performance.now() - start) / 1000 };
  process.stdout.write(JSON.stringify(report));
}

// ---- The figure ------------------------------------------------------------------------

/** P1: the DecryptStream's throughput as a share of the four primitives' limit. */
export async function decryptThroughput(): Promise<Figure> {
  const { rows, ratio } = await measureThroughput();
  printThroughput(rows);
  const mibPerSecond = (ms: number) => THROUGHPUT_BYTES / MiB / (ms / 1000);
  const stream = rows.at(-1)!;
  const limit = rows.at(-2)!;
  return {
    id: 'P1',
    name: `DecryptStream vs 4 primitives, ${+(THROUGHPUT_BYTES / MiB).toFixed(1)} MiB`,
    wamedia: mibPerSecond(stream.ms),
    unit: 'MiB/s',
    anchor: mibPerSecond(limit.ms),
    ratio,
    goal: `ratio ≥ ${RATIO_GOAL}`,
    met: ratio >= RATIO_GOAL,
    details: Object.fromEntries(rows.map((row) => [row.name, { bestMs: row.ms, mibPerSecond: mibPerSecond(row.ms) }])),
  };
}

/** The peak RSS goal of `pnpm bench:crypto`, in bytes. */
export const PEAK_RSS_GOAL = RSS_GOAL;
export const PEAK_RSS_FILE_BYTES = RSS_FILE_BYTES;

// The compiled copy of this file is the RSS child (see runRssChild).
if (process.argv[2] === RSS_CHILD_FLAG) await rssChild(process.argv[3]!, process.argv[4]!);
