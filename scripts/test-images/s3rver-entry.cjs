// The entry of the wamedia-test/s3rver:local image (scripts/test-images.sh): an s3rver that takes
// MinIO's command line (`server <dir> --address <host>:<port>`) and credentials
// (MINIO_ROOT_USER, MINIO_ROOT_PASSWORD), so the tests start it exactly as they start MinIO.
'use strict';
const S3rver = require('s3rver');
const { DUMMY_ACCOUNT } = require('s3rver/lib/models/account');

function parse(argv) {
  const args = argv[0] === 'server' ? argv.slice(1) : argv;
  let directory = '/data';
  let address = '127.0.0.1:9000';
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--address') address = args[++i];
    else if (args[i] === '--console-address') i++; // s3rver has no console
    else if (!args[i].startsWith('--')) directory = args[i];
  }
  const colon = address.lastIndexOf(':');
  return { directory, host: address.slice(0, colon) || '0.0.0.0', port: Number(address.slice(colon + 1)) };
}

const { directory, host, port } = parse(process.argv.slice(2));
const user = process.env.MINIO_ROOT_USER;
const password = process.env.MINIO_ROOT_PASSWORD;
if (user && password) DUMMY_ACCOUNT.createKeyPair(user, password);

const server = new S3rver({ address: host, port, silent: true, directory });
keepEmptyFolders(server);
server.run().then(
  (bound) => console.log(`s3rver listening on ${bound.address}:${bound.port}`),
  (error) => {
    console.error(`s3rver failed to start: ${error.message}`);
    process.exit(1);
  },
);
// The container stops with SIGTERM: close the listener and exit at once.
process.once('SIGTERM', () => server.close().finally(() => process.exit(0)));

/**
 * s3rver's DeleteObject removes the object's folder once it is empty; a PutObject into that
 * folder at the same moment then fails on a stream s3rver has no error listener on, which would
 * end this process. The store writes and deletes temporaries side by side, so the folders stay
 * (test/support/s3-server.ts does the same for the in-process s3rver).
 */
function keepEmptyFolders(s3rver) {
  const { unlink } = require('node:fs/promises');
  const store = s3rver.store;
  store.deleteObject = async (bucket, key) => {
    const files = ['object', 'object.md5', 'metadata.json'].map((kind) => store.getResourcePath(bucket, key, kind));
    await Promise.all(
      files.map((file) =>
        unlink(file).catch((error) => {
          if (error.code !== 'ENOENT') throw error;
        }),
      ),
    );
  };
}
