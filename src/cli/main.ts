import { Command, InvalidArgumentError, Option } from 'commander';
import { startSluice } from '../app.js';
import { addChaosCommands } from '../chaos/cli.js';
import { readScenario } from '../chaos/scenario.js';
import { cellNameProblem, defaultCell } from '../engine/cells.js';
import {
  chaos as chaosDefaults,
  engine as engineDefaults,
  guard as guardLimits,
  kinesis,
} from '../limits.js';
import { addClusterCommands } from './cluster.js';

function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
    }
    return n;
  };
}

const program = new Command('sluice').description(
  'A streaming data service that speaks the Kinesis Data Streams API',
);

program
  .command('serve')
  .description('serve the Kinesis API on the embedded store')
  .option('--host <host>', 'address to bind', '127.0.0.1')
  .option('--port <port>', 'port for HTTP/1.1 and cleartext HTTP/2', integer(0, 65535), 4567)
  .option('--data-dir <dir>', 'folder of the embedded durable store', './sluice-data')
  .option('--memory', 'keep everything in memory (lost on exit)', false)
  .option(
    '--store <url>',
    'keep streams and records in a NATS JetStream cluster instead of the embedded store: ' +
      'nats://host:port[,host:port...][?replicas=N&prefix=P&placement=cell]',
  )
  .option('--fsync', 'flush to disk on every commit, so acknowledged records survive power loss', false)
  .option(
    '--cell <name>',
    'the cell this frontend serves: new streams are placed in it, streams of other cells are refused',
    (value: string) => {
      const problem = cellNameProblem(value);
      if (problem) throw new InvalidArgumentError(problem);
      return value;
    },
    defaultCell,
  )
  .option('--tls', 'also serve TLS (ALPN h2 and http/1.1) on --tls-port', false)
  .option('--tls-port <port>', 'port for TLS', integer(0, 65535), 4568)
  .option('--cert <file>', 'TLS certificate (PEM); default: self-signed, generated on first use')
  .option('--key <file>', 'TLS private key (PEM)')
  .addOption(
    new Option('--throughput <mode>', "per-shard throughput limits: the service's, or none")
      .choices(['aws', 'unlimited'])
      .default('aws'),
  )
  .option(
    '--shard-write-bytes-per-sec <n>',
    'per-shard write limit in bytes/s',
    integer(1),
    kinesis.shardWriteBytesPerSec,
  )
  .option(
    '--shard-write-records-per-sec <n>',
    'per-shard write limit in records/s',
    integer(1),
    kinesis.shardWriteRecordsPerSec,
  )
  .option(
    '--shard-read-bytes-per-sec <n>',
    'per-shard read limit in bytes/s',
    integer(1),
    kinesis.shardReadBytesPerSec,
  )
  .option(
    '--shard-read-calls-per-sec <n>',
    'per-shard GetRecords calls/s',
    integer(1),
    kinesis.shardReadCallsPerSec,
  )
  .option(
    '--shard-limit <n>',
    'open shards allowed across all streams',
    integer(1),
    kinesis.defaultShardLimit,
  )
  .option(
    '--create-stream-ms <ms>',
    'how long a new stream stays CREATING',
    integer(0),
    engineDefaults.createStreamMs,
  )
  .option(
    '--delete-stream-ms <ms>',
    'how long a deleted stream stays DELETING',
    integer(0),
    engineDefaults.deleteStreamMs,
  )
  .option(
    '--update-stream-ms <ms>',
    'how long a stream stays UPDATING after a resharding or another change',
    integer(0),
    engineDefaults.updateStreamMs,
  )
  .addOption(new Option('--region <region>', 'region named in ARNs').default(kinesis.defaultRegion))
  .addOption(
    new Option('--account-id <id>', 'account named in ARNs and messages').default(kinesis.defaultAccountId),
  )
  .option(
    '--max-in-flight <n>',
    'requests served at once; past it new ones get 503 before their body is read',
    integer(1),
    guardLimits.maxInFlightRequests,
  )
  .option(
    '--max-store-wait-ms <ms>',
    'refuse writes with 503 while the oldest append waiting for the store has waited this long',
    integer(1),
    guardLimits.maxStoreWaitMs,
  )
  .option(
    '--request-deadline-ms <ms>',
    'answer 503 to a request not done within this time',
    integer(1),
    guardLimits.requestDeadlineMs,
  )
  .option(
    '--auth',
    'verify SigV4 signatures and enforce stream resource policies (keys from --credentials-file and/or SLUICE_ACCESS_KEY_ID/SLUICE_SECRET_ACCESS_KEY)',
    false,
  )
  .option(
    '--credentials-file <file>',
    'JSON array of {"accessKeyId", "secretAccessKey", "sessionToken"?, "principal"?} (with --auth)',
  )
  .option(
    '--admin-port <port>',
    `serve the admin API (fault rules, scenarios, dependents map) on 127.0.0.1 at this port (${chaosDefaults.defaultAdminPort} is what the faults, dependents and rehearse commands look for); off by default`,
    integer(0, 65535),
  )
  .option('--faults <file>', 'fault rules to hold from the start: a JSON file of rules or a scenario')
  .option('--faults-seed <n>', 'seed the fault draws (reproducible runs)', integer(0, 2 ** 32 - 1))
  .action(async (opts) => {
    if (opts.credentialsFile !== undefined && !opts.auth) program.error('--credentials-file needs --auth');
    if ((opts.cert === undefined) !== (opts.key === undefined)) {
      program.error('--cert and --key go together');
    }
    if (!/^\d{12}$/.test(opts.accountId)) program.error('--account-id must be 12 digits');
    if (opts.store !== undefined && !String(opts.store).startsWith('nats://'))
      program.error('--store takes nats://host:port[,host:port...]');
    const sluice = await startSluice({
      host: opts.host,
      port: opts.port,
      dataDir: opts.dataDir,
      memory: opts.memory,
      fsync: opts.fsync,
      natsUrl: opts.store,
      tls: opts.tls ? { port: opts.tlsPort, certPath: opts.cert, keyPath: opts.key } : undefined,
      engine: {
        throughput:
          opts.throughput === 'unlimited'
            ? undefined
            : {
                writeBytesPerSec: opts.shardWriteBytesPerSec,
                writeRecordsPerSec: opts.shardWriteRecordsPerSec,
                readBytesPerSec: opts.shardReadBytesPerSec,
                readCallsPerSec: opts.shardReadCallsPerSec,
              },
        shardLimit: opts.shardLimit,
        createStreamMs: opts.createStreamMs,
        deleteStreamMs: opts.deleteStreamMs,
        updateStreamMs: opts.updateStreamMs,
        region: opts.region,
        accountId: opts.accountId,
        cell: opts.cell,
      },
      admission: {
        maxInFlightRequests: opts.maxInFlight,
        requestDeadlineMs: opts.requestDeadlineMs,
        maxStoreWaitMs: opts.maxStoreWaitMs,
      },
      auth: opts.auth ? { credentialsFile: opts.credentialsFile, env: process.env } : undefined,
      chaos: {
        faults: opts.faults === undefined ? undefined : readScenario(opts.faults),
        adminPort: opts.adminPort,
        seed: opts.faultsSeed,
      },
      log: (line) => console.error(line),
    });
    const store = opts.store ?? (opts.memory ? 'in memory' : `in ${opts.dataDir}`);
    const tls = sluice.tlsPort === undefined ? '' : `, TLS on https://${opts.host}:${sluice.tlsPort}`;
    const cell = opts.cell === defaultCell ? '' : `, cell ${opts.cell}`;
    console.log(`sluice listening on http://${opts.host}:${sluice.port}${tls} (store ${store}${cell})`);
    if (sluice.adminPort !== undefined) {
      console.log(
        `admin API on http://127.0.0.1:${sluice.adminPort} (fault rules, scenarios, dependents map)`,
      );
    }
    let stopping = false;
    const stop = () => {
      if (stopping) process.exit(1);
      stopping = true;
      sluice.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });

addChaosCommands(program);
addClusterCommands(program);

program.parseAsync().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
