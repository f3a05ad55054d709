/**
 * `pnpm build`: compiles the processes that run in production (the API, the worker and the
 * `pnpm start` supervisor) into dist/, one ES module each, for plain `node` (no TypeScript loader
 * at run time: tsx's hooks thread alone costs ~30 MiB per process and slows the start). The
 * workspace's own packages are bundled in; npm packages stay external and load from node_modules.
 * Plain JavaScript on purpose, so that it runs before anything is compiled.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const entries = {
  api: 'apps/api/src/main.ts',
  worker: 'apps/worker/src/main.ts',
  start: 'scripts/start.ts',
};

/**
 * npm packages stay out of the bundle, imported by the absolute path esbuild resolves them to from
 * the workspace package that uses them. pnpm gives each package only its own dependencies, so a
 * bare `import 'pino'` left in dist/ would not resolve from there; the path does, wherever dist/
 * is run from (the Docker image builds and runs it at the same place).
 */
const externalNpmPackages = {
  name: 'external-npm-packages',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData === 'resolving' || args.path.startsWith('@wamedia/') || args.path.startsWith('node:')) return undefined;
      const resolved = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: 'resolving' });
      if (resolved.errors.length > 0) return { errors: resolved.errors };
      return resolved.path.includes('/node_modules/') ? { path: resolved.path, external: true } : undefined;
    });
  },
};

const started = performance.now();
// Chunk names change with their content: what an earlier build left would only pile up.
rmSync(path.join(root, 'dist'), { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: entries,
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  format: 'esm',
  // Chunks: a dynamic import (the S3 store) loads only when it runs.
  splitting: true,
  target: 'node20',
  plugins: [externalNpmPackages],
  sourcemap: 'linked',
  logLevel: 'warning',
});
process.stderr.write(`built dist/{${Object.keys(entries).join(',')}}.js in ${Math.round(performance.now() - started)} ms\n`);
