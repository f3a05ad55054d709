#!/usr/bin/env bash
# Builds the local stand-ins the container tests use where the default images (redis, minio/minio)
# cannot be pulled, without any registry: each image is a root filesystem made from this host's
# own binaries and the libraries `ldd` lists for them, loaded with `docker import`.
#   wamedia-test/redis:local   the host's redis-server
#   wamedia-test/s3rver:local  the host's node, the s3rver package from node_modules and
#                              scripts/test-images/s3rver-entry.cjs (MinIO's command line)
# The images have no network of their own: the tests run them with host networking.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in docker redis-server node ldd tar; do
  command -v "$tool" >/dev/null 2>&1 || { echo "test-images: $tool is not on PATH" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Copies an executable and every library it links (the dynamic loader included) into a root
# filesystem, at the paths they have on this host.
copy_binary() {
  local binary=$1 rootfs=$2
  # Copied under the name it is called by, not its symlink's target: Debian's redis-server is a
  # link to redis-check-rdb, one binary that acts on the name it was started as.
  mkdir -p "$rootfs$(dirname "$binary")"
  cp -L "$binary" "$rootfs$binary"
  # `ldd` lines: "libx.so => /path/libx.so (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)".
  ldd "$binary" | grep -o '/[^ ]*' | while read -r library; do
    mkdir -p "$rootfs$(dirname "$library")"
    cp -L "$library" "$rootfs$library"
  done
  mkdir -p "$rootfs/tmp" "$rootfs/data"
  chmod 1777 "$rootfs/tmp"
  echo "$binary"
}

import_image() {
  local rootfs=$1 tag=$2
  shift 2
  tar -C "$rootfs" -c . | docker import "$@" - "$tag" >/dev/null
  echo "test-images: built $tag"
}

# Redis: the binary alone, started like the official image's (`redis-server <options>`, found
# on the PATH the engine gives an image without one).
redis_root="$work/redis"
copy_binary "$(command -v redis-server)" "$redis_root" >/dev/null
import_image "$redis_root" wamedia-test/redis:local \
  --change 'CMD ["redis-server"]' \
  --change 'LABEL org.wamedia.test-server=redis-server'

# S3: node, the s3rver package and everything it requires, and the entry script.
s3_root="$work/s3rver"
node_binary=$(copy_binary "$(command -v node)" "$s3_root")
mkdir -p "$s3_root/app"
cp scripts/test-images/s3rver-entry.cjs "$s3_root/app/entry.cjs"
# pnpm keeps each package's dependencies beside it, behind symlinks: copy the closure of s3rver's
# dependencies into one plain node_modules, a package nested under its dependent only where two
# versions of one name are needed.
node - "$s3_root/app/node_modules" <<'NODE'
const { cpSync, readFileSync, realpathSync, existsSync } = require('node:fs');
const path = require('node:path');
const target = process.argv[2];
const placed = new Map(); // top-level name -> version
function packageDir(name, from) {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dir === path.dirname(dir)) throw new Error(`cannot find ${name} from ${from}`);
  }
}
function place(name, dir, into) {
  const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  let destination;
  if (!placed.has(name)) {
    placed.set(name, manifest.version);
    destination = path.join(target, name);
  } else if (placed.get(name) === manifest.version) {
    return;
  } else {
    destination = path.join(into, 'node_modules', name);
    if (existsSync(destination)) return;
  }
  // The package's own files only: its dependencies are placed by name below.
  const ownFile = (source) => !path.relative(dir, source).split(path.sep).includes('node_modules');
  cpSync(dir, destination, { recursive: true, dereference: true, filter: ownFile });
  const dependencies = { ...manifest.dependencies, ...manifest.optionalDependencies };
  for (const dependency of Object.keys(dependencies)) {
    let found;
    try {
      found = packageDir(dependency, dir);
    } catch (error) {
      if (manifest.optionalDependencies?.[dependency]) continue;
      throw error;
    }
    place(dependency, found, destination);
  }
}
place('s3rver', realpathSync('test/node_modules/s3rver'), target);
console.log(`test-images: s3rver and ${placed.size - 1} packages it requires`);
NODE
import_image "$s3_root" wamedia-test/s3rver:local \
  --change "ENTRYPOINT [\"$node_binary\", \"/app/entry.cjs\"]" \
  --change 'WORKDIR /app' \
  --change 'LABEL org.wamedia.test-server=s3rver'
