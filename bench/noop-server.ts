/**
 * The no-op server: Sluice's listener (src/server/listener.ts `listen`: HTTP/1.1 and h2c on one
 * port), body reading, and Sluice's decoding: the PutRecords/PutRecord fast path
 * (src/api/putrecords-fast.ts), else JSON parsing and model validation (`decodeInput` from
 * src/api/validation.ts); then a canned, valid answer instead of the engine and the store. What it
 * serves per second is the limit this stack allows; Sluice is measured against it.
 *
 *   node dist/bench/noop-server.js [--host 127.0.0.1] [--port 4567]
 *
 * GetRecords answers a canned page of records shaped like the last PutRecord(s) data seen (or
 * 1 KiB), as many as `Limit` asks, up to 10,000 and 10 MiB; so a drain is limited by the wire.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { fastDecode, hasFastPath } from '../src/api/putrecords-fast.js';
import { decodeInput, knownOperations } from '../src/api/validation.js';
import type { Request, Response } from '../src/server/listener.js';
import { listen } from '../src/server/listener.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '4567' },
  },
});

const contentType = 'application/x-amz-json-1.1';
const targetPrefix = 'Kinesis_20131202.';
const modelOperations = new Set(knownOperations());
const maxBodyBytes = 16 * 1024 * 1024;
const arn = (name: string) => `arn:aws:kinesis:us-east-1:000000000000:stream/${name}`;
/** A 56-digit sequence number, like the service's. */
const sequenceNumber = '49590338271490256608559692538361571095921575989136588898';
const shardIds = [0, 1, 2, 3].map((i) => `shardId-${String(i).padStart(12, '0')}`);

const putRecordsAnswers = new Map<number, string>();
function putRecordsAnswer(count: number): string {
  let answer = putRecordsAnswers.get(count);
  if (answer === undefined) {
    answer = JSON.stringify({
      FailedRecordCount: 0,
      Records: Array.from({ length: count }, (_, i) => ({
        SequenceNumber: sequenceNumber,
        ShardId: shardIds[i % shardIds.length],
      })),
    });
    putRecordsAnswers.set(count, answer);
  }
  return answer;
}

/** Data of the records GetRecords hands out: the shape of the last put data seen. */
let templateData: Buffer = Buffer.alloc(1024, 7);
const getRecordsAnswers = new Map<string, string>();
function getRecordsAnswer(limit: number): string {
  const perRecord = templateData.length + 16;
  const count = Math.max(1, Math.min(limit, 10_000, Math.floor((10 * 1024 * 1024) / perRecord)));
  const key = `${count}/${templateData.length}`;
  let answer = getRecordsAnswers.get(key);
  if (answer === undefined) {
    const data = templateData.toString('base64');
    const arrival = Date.now() / 1000;
    answer = JSON.stringify({
      Records: Array.from({ length: count }, (_, i) => ({
        SequenceNumber: sequenceNumber,
        ApproximateArrivalTimestamp: arrival,
        Data: data,
        PartitionKey: `pk-${i}`,
      })),
      NextShardIterator: 'noop-iterator',
      MillisBehindLatest: 1000,
    });
    getRecordsAnswers.clear();
    getRecordsAnswers.set(key, answer);
  }
  return answer;
}

function cannedAnswer(operation: string, input: Record<string, unknown>): string {
  switch (operation) {
    case 'PutRecords': {
      const records = input.Records as { Data: Buffer }[];
      const first = records[0]?.Data;
      if (first && first.length !== templateData.length) templateData = Buffer.from(first);
      return putRecordsAnswer(records.length);
    }
    case 'PutRecord': {
      const data = input.Data as Buffer;
      if (data.length !== templateData.length) templateData = Buffer.from(data);
      return `{"SequenceNumber":"${sequenceNumber}","ShardId":"${shardIds[0]}"}`;
    }
    case 'GetRecords':
      return getRecordsAnswer((input.Limit as number | undefined) ?? 10_000);
    case 'GetShardIterator':
      return '{"ShardIterator":"noop-iterator"}';
    case 'CreateStream':
      return '';
    case 'ListStreams':
      return '{"HasMoreStreams":false,"StreamNames":[],"StreamSummaries":[]}';
    case 'DescribeStreamSummary': {
      const name = String(input.StreamName ?? 'noop');
      return JSON.stringify({
        StreamDescriptionSummary: {
          StreamName: name,
          StreamARN: arn(name),
          StreamStatus: 'ACTIVE',
          StreamModeDetails: { StreamMode: 'PROVISIONED' },
          RetentionPeriodHours: 24,
          StreamCreationTimestamp: Date.now() / 1000,
          EnhancedMonitoring: [{ ShardLevelMetrics: [] }],
          EncryptionType: 'NONE',
          OpenShardCount: 4,
          ConsumerCount: 0,
        },
      });
    }
    default:
      return '{}';
  }
}

function sendJson(res: Response, status: number, body: string): void {
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.writeHead(status);
  res.end(body);
}

function sendError(res: Response, type: string, message: string): void {
  res.setHeader('x-amzn-ErrorType', type);
  sendJson(res, 400, JSON.stringify({ __type: type, message }));
}

function handle(req: Request, res: Response): void {
  res.setHeader('x-amzn-RequestId', randomUUID());
  res.setHeader('x-amz-id-2', randomBytes(54).toString('base64'));
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= maxBodyBytes) chunks.push(chunk);
  });
  req.on('end', () => {
    if (size > maxBodyBytes) return sendError(res, 'SerializationException', 'Request body too large.');
    const target = req.headers['x-amz-target'];
    const operation =
      typeof target === 'string' && target.startsWith(targetPrefix) ? target.slice(targetPrefix.length) : '';
    if (!modelOperations.has(operation)) return sendError(res, 'UnknownOperationException', '');
    if (req.headers.authorization === undefined) {
      return sendError(res, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
    }
    const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    // Sluice's decoding: the PutRecords/PutRecord fast path, else JSON.parse and decodeInput.
    const fast = hasFastPath(operation) ? fastDecode(operation, body) : undefined;
    let input: Record<string, unknown>;
    if (fast !== undefined) {
      input = fast;
    } else {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        return sendError(res, 'SerializationException', '');
      }
      const decoded = decodeInput(operation, parsed, 'json');
      if (!decoded.ok) return sendError(res, decoded.error.name, decoded.error.message);
      input = decoded.input;
    }
    sendJson(res, 200, cannedAnswer(operation, input));
  });
}

const listening = await listen({ host: values.host, port: Number(values.port) }, handle);
console.log(`noop server listening on http://${values.host}:${listening.port}`);
const stop = () => {
  listening.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
