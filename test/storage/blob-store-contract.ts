import { createHash, randomBytes } from 'node:crypto';
import { Readable, pipeline } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InternalError, MacMismatchError, createDecryptStream, encryptMedia } from '@wamedia/shared';
import { corrupt } from '../support/fake-cdn.js';
import type { BlobStore, TempBlob } from '@wamedia/server';
import { MediaIndex } from '@wamedia/server';

const MiB = 1024 * 1024;

/** A store under test, with a view of its insides that does not go through the store. */
export interface ContractSubject {
  store: BlobStore;
  /** The temporary objects currently stored. */
  listTemps(): Promise<string[]>;
  /** Makes every temporary object look last written `ms` earlier than it was, past the store. */
  ageTemps(ms: number): Promise<void>;
  /** The blobs currently stored. */
  listBlobs(): Promise<string[]>;
  dispose?(): Promise<void>;
}

/** Gaps of a test double, each skipping the tests it cannot pass. */
export interface ContractOptions {
  /** s3rver reads `bytes=0-0` as "from 0 to the end": it takes an end of 0 for no end. */
  noSingleByteRangeAtZero?: boolean;
}

/** A source stream's own failure, to tell it apart from anything the store might throw. */
class SourceFailed extends Error {}

/**
 * The behaviour every BlobStore owes its callers, run against one implementation.
 * `makeSubject` gives each test an empty store.
 */
export function describeBlobStoreContract(
  name: string,
  makeSubject: () => Promise<ContractSubject>,
  options: ContractOptions = {},
): void {
  describe(`${name} (BlobStore contract)`, () => {
    let subject: ContractSubject;
    let store: ContractSubject['store'];

    beforeEach(async () => {
      subject = await makeSubject();
      store = subject.store;
    });
    afterEach(async () => {
      await subject.dispose?.();
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it('publishes bytes only on commit, then reads them whole and by inclusive ranges', async () => {
      const bytes = randomBytes(1000);
      const sha256 = sha256Hex(bytes);

      const temp = await store.writeTemp(Readable.from([bytes.subarray(0, 300), bytes.subarray(300)]));
      expect(temp.size).toBe(1000);
      expect(await subject.listTemps()).toHaveLength(1);
      expect(await store.stat(sha256)).toBeUndefined();

      await store.commit(temp, sha256);
      expect(await store.stat(sha256)).toEqual({ size: 1000 });
      expect(await subject.listTemps()).toEqual([]);
      expect(await readAll(await store.read(sha256))).toEqual(bytes);
      expect(await readAll(await store.read(sha256, { start: 0, end: 9 }))).toEqual(bytes.subarray(0, 10));
      expect(await readAll(await store.read(sha256, { start: 999, end: 999 }))).toEqual(bytes.subarray(999));
      expect(await readAll(await store.read(sha256, { start: 100, end: 199 }))).toEqual(bytes.subarray(100, 200));
    });

    const firstByteTitle = options.noSingleByteRangeAtZero
      ? 'reads the first byte alone (skipped: this server reads bytes=0-0 as the whole object)'
      : 'reads the first byte alone';
    it.skipIf(options.noSingleByteRangeAtZero)(firstByteTitle, async () => {
      const bytes = randomBytes(10);
      const sha256 = sha256Hex(bytes);
      await store.commit(await store.writeTemp(Readable.from([bytes])), sha256);
      expect(await readAll(await store.read(sha256, { start: 0, end: 0 }))).toEqual(bytes.subarray(0, 1));
    });

    it('stores an empty blob', async () => {
      const sha256 = sha256Hex(Buffer.alloc(0));
      const temp = await store.writeTemp(Readable.from([]));
      expect(temp.size).toBe(0);
      await store.commit(temp, sha256);
      expect(await store.stat(sha256)).toEqual({ size: 0 });
      expect(await readAll(await store.read(sha256))).toEqual(Buffer.alloc(0));
    });

    it('streams a 20 MiB blob in and out byte for byte', async () => {
      const source = generatedSource(20 * MiB);
      const temp = await store.writeTemp(source.stream);
      expect(temp.size).toBe(20 * MiB);
      await store.commit(temp, source.sha256());

      expect(await store.stat(source.sha256())).toEqual({ size: 20 * MiB });
      const readBack = createHash('sha256');
      for await (const chunk of await store.read(source.sha256())) readBack.update(chunk as Buffer);
      expect(readBack.digest('hex')).toBe(source.sha256());
    });

    it('keeps one object when the same bytes are committed twice, at once and again later', async () => {
      const bytes = randomBytes(4096);
      const sha256 = sha256Hex(bytes);
      const temps = await Promise.all([1, 2, 3].map(() => store.writeTemp(Readable.from([bytes]))));

      await Promise.all(temps.slice(0, 2).map((temp) => store.commit(temp, sha256)));
      await store.commit(temps[2]!, sha256);

      expect(await subject.listBlobs()).toHaveLength(1);
      expect(await subject.listTemps()).toEqual([]);
      expect(await readAll(await store.read(sha256))).toEqual(bytes);
    });

    it.each([
      ['before any bytes', 0],
      ['after a few bytes', 100_000],
      ['after more than one upload part', 10 * MiB],
    ])('rethrows the source’s own error when it fails %s, leaving no temporary', async (_, failAfter) => {
      const failure = new SourceFailed('the source broke');
      await expect(store.writeTemp(failingSource(failAfter, failure))).rejects.toBe(failure);
      expect(await subject.listTemps()).toEqual([]);
    });

    it('rethrows an integrity failure the decrypt stream raises as it ends (a bad MAC), leaving no temporary', async () => {
      const { enc, mediaKey } = encryptMedia(randomBytes(3_000), { contentType: 'image' });
      const decrypt = createDecryptStream({ contentType: 'image', mediaKey });
      const source = pipeline(Readable.from([corrupt(enc)]), decrypt, () => undefined);
      await expect(store.writeTemp(source)).rejects.toBeInstanceOf(MacMismatchError);
      expect(await subject.listTemps()).toEqual([]);
    });

    it('keeps concurrent writes apart while others fail: every good one whole, every failed one gone', async () => {
      const writes = Array.from({ length: 64 }, (_, i) => {
        const bytes = randomBytes(50_000 + i * 997);
        if (i % 2 === 1) return store.writeTemp(failingSource(20_000, new SourceFailed(`failed ${i}`))).then(() => 'unexpected', (error: Error) => error.message);
        return store.writeTemp(Readable.from([bytes.subarray(0, 20_000), bytes.subarray(20_000)])).then(async (temp) => {
          const sha256 = sha256Hex(bytes);
          await store.commit(temp, sha256);
          return (await readAll(await store.read(sha256))).equals(bytes) ? 'whole' : 'corrupt';
        });
      });
      const outcomes = await Promise.all(writes);
      expect(outcomes).toEqual(Array.from({ length: 64 }, (_, i) => (i % 2 === 1 ? `failed ${i}` : 'whole')));
      expect(await subject.listTemps()).toEqual([]);
    });

    it('discards a temporary object, and a missing one without complaint', async () => {
      const temp = await store.writeTemp(Readable.from([Buffer.from('unverified')]));
      await store.discard(temp);
      expect(await subject.listTemps()).toEqual([]);
      await expect(store.discard(temp)).resolves.toBeUndefined();
    });

    it('answers undefined for a blob it does not hold', async () => {
      expect(await store.stat(sha256Hex(Buffer.from('never stored')))).toBeUndefined();
    });

    it('refuses addresses and keys that are not its own', async () => {
      const temp = await store.writeTemp(Readable.from([Buffer.from('x')]));
      await expect(store.commit(temp, '../etc/passwd')).rejects.toBeInstanceOf(InternalError);
      await expect(store.stat('ABC')).rejects.toBeInstanceOf(InternalError);
      const forged: TempBlob = { key: '../records/index', size: 1 };
      await expect(store.discard(forged)).rejects.toBeInstanceOf(InternalError);
    });

    it('round-trips records, replacing on write, and answers undefined for a missing one', async () => {
      await store.putRecord('index-a.json', '{"n":1}');
      await store.putRecord('index-a.json', '{"n":2}');
      expect(await store.getRecord('index-a.json')).toBe('{"n":2}');
      expect(await store.getRecord('index-b.json')).toBeUndefined();
      expect(await subject.listTemps()).toEqual([]);
    });

    it.each(['', '.', '..', '../escape', 'a/b', '.hidden', 'spaces here', 'x'.repeat(201)])(
      'refuses the record name %j',
      async (recordName) => {
        await expect(store.putRecord(recordName, '{}')).rejects.toBeInstanceOf(InternalError);
        await expect(store.getRecord(recordName)).rejects.toBeInstanceOf(InternalError);
      },
    );

    it('removes only stale temporaries', async () => {
      await store.writeTemp(Readable.from([Buffer.from('left behind by a killed worker')]));
      expect(await store.removeStaleTemps(60_000)).toBe(0);
      expect(await subject.listTemps()).toHaveLength(1);

      await subject.ageTemps(120_000);
      expect(await store.removeStaleTemps(60_000)).toBe(1);
      expect(await subject.listTemps()).toEqual([]);
    });

    describe('MediaIndex on this store', () => {
      const lookupKey = 'ab'.repeat(32);

      it('finds what was put, and nothing for an unknown key', async () => {
        const bytes = Buffer.from('indexed media');
        const entry = { sha256: sha256Hex(bytes), size: bytes.length, mimetype: 'image/jpeg' };
        await store.commit(await store.writeTemp(Readable.from([bytes])), entry.sha256);

        const index = new MediaIndex(store);
        await index.put(lookupKey, entry);
        expect(await index.get(lookupKey)).toEqual(entry);
        expect(await index.get('cd'.repeat(32))).toBeUndefined();
      });

      it('treats an entry whose blob is gone as a miss', async () => {
        const index = new MediaIndex(store);
        await index.put(lookupKey, { sha256: sha256Hex(Buffer.from('gone')), size: 4, mimetype: 'audio/ogg' });
        expect(await index.get(lookupKey)).toBeUndefined();
      });

      it('remembers an entry: later lookups read no record, but still see a blob that is gone', async () => {
        const bytes = Buffer.from('remembered media');
        const entry = { sha256: sha256Hex(bytes), size: bytes.length, mimetype: 'image/png' };
        await store.commit(await store.writeTemp(Readable.from([bytes])), entry.sha256);
        await store.putRecord(`index-${lookupKey}.json`, JSON.stringify(entry));
        let recordReads = 0;
        const counted = Object.assign(Object.create(store) as BlobStore, {
          getRecord: (name: string) => (recordReads++, store.getRecord(name)),
        });
        const index = new MediaIndex(counted);
        expect(await index.get(lookupKey)).toEqual(entry);
        expect(await index.get(lookupKey)).toEqual(entry);
        expect(recordReads).toBe(1);
        const missing = { sha256: sha256Hex(Buffer.from('never stored')), size: 12, mimetype: 'image/png' };
        await index.put('ef'.repeat(32), missing);
        expect(await index.get('ef'.repeat(32))).toBeUndefined();
      });

      it('treats a damaged record as a miss', async () => {
        await store.putRecord(`index-${lookupKey}.json`, '{"sha256": 12');
        expect(await new MediaIndex(store).get(lookupKey)).toBeUndefined();
      });

      it('refuses a lookup key that is not 64 lowercase hex digits', async () => {
        const index = new MediaIndex(store);
        await expect(index.get('../records/x')).rejects.toBeInstanceOf(InternalError);
        const entry = { sha256: 'ab'.repeat(32), size: 1, mimetype: 'x/y' };
        await expect(index.put('AB'.repeat(32), entry)).rejects.toBeInstanceOf(InternalError);
        await expect(index.put(lookupKey, { ...entry, sha256: 'nope' })).rejects.toBeInstanceOf(InternalError);
      });
    });
  });
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** `size` random bytes made on demand in 64 KiB chunks, hashed as they go out. */
function generatedSource(size: number): { stream: Readable; sha256(): string } {
  const hash = createHash('sha256');
  let digest: string | undefined;
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let sent = 0; sent < size; sent += 64 * 1024) {
      const chunk = randomBytes(Math.min(64 * 1024, size - sent));
      hash.update(chunk);
      yield chunk;
    }
    digest = hash.digest('hex');
  }
  return {
    stream: Readable.from(chunks(), { objectMode: false }),
    sha256: () => digest ?? expect.fail('the source has not been read to the end'),
  };
}

/** A source that sends `failAfter` bytes, then fails with `failure` like a failed integrity check would. */
function failingSource(failAfter: number, failure: Error): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let sent = 0; sent < failAfter; sent += MiB) yield randomBytes(Math.min(MiB, failAfter - sent));
    throw failure;
  }
  return Readable.from(chunks(), { objectMode: false });
}
