/**
 * The P4 anchor: express.static serving one folder on 127.0.0.1:PORT, in a plain node process
 * of its own (no TypeScript loader). Usage: node static-server.mjs <folder> <port>.
 * Prints "listening" once it accepts connections.
 */
import express from 'express';

const [folder, port] = process.argv.slice(2);
const app = express();
app.use(express.static(folder));
app.listen(Number(port), '127.0.0.1', () => console.log('listening'));
process.on('SIGTERM', () => process.exit(0));
