/**
 * kinesalite (npm `kinesalite`) started through its JS API so that it binds 127.0.0.1 (its CLI
 * listens on every interface). With --path it keeps its data in LevelDB (leveldown's prebuilt
 * addon), else in memory (memdown), its default.
 *
 *   node dist/bench/kinesalite-server.js --port 4567 [--path dir] [--shard-limit n] [--create-stream-ms ms]
 */
import { createRequire } from 'node:module';
import type { Server } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '4567' },
    path: { type: 'string' },
    'shard-limit': { type: 'string', default: '10' },
    'create-stream-ms': { type: 'string', default: '500' },
  },
});

const require = createRequire(import.meta.url);
const kinesalite = require('kinesalite') as (options: Record<string, unknown>) => Server;
const server = kinesalite({
  path: values.path,
  shardLimit: Number(values['shard-limit']),
  createStreamMs: Number(values['create-stream-ms']),
  deleteStreamMs: Number(values['create-stream-ms']),
  updateStreamMs: Number(values['create-stream-ms']),
});
server.listen(Number(values.port), values.host, () => {
  console.log(`kinesalite listening on http://${values.host}:${values.port} (${values.path ?? 'in memory'})`);
});
const stop = () => {
  // kinesalite's close() closes its LevelDB too; connections kept alive are ended first.
  (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(1), 5000).unref();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
