/**
 * Preloaded with `node --import` by loadedModules() (loaded-modules.ts): imports the module named
 * by WAMEDIA_RECORD_IMPORT, then prints every module the process loaded as one JSON array: the
 * URLs the ESM loader resolved, and the files in the CommonJS cache (packages such as ioredis or
 * pino load their own files with require(), which ESM hooks never see).
 */
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { MessageChannel } from 'node:worker_threads';

const { port1, port2 } = new MessageChannel();
const resolved = new Set();
port1.on('message', (url) => resolved.add(url));
register('./module-recorder-hooks.mjs', import.meta.url, { data: { port: port2 }, transferList: [port2] });

const target = process.env.WAMEDIA_RECORD_IMPORT;
await import(target);
// The hooks report on their own port, in order: once this last import is reported, every one
// before it has been too.
const sentinel = 'data:text/javascript,export default 1';
await import(sentinel);
while (!resolved.has(sentinel)) await new Promise((resolve) => setImmediate(resolve));
port1.close();

const required = Object.keys(createRequire(import.meta.url).cache).map((file) => pathToFileURL(file).href);
process.stdout.write(JSON.stringify([...new Set([...resolved, ...required])]));
