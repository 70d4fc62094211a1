import { consumerOperations } from '../engine/consumers.js';
import type { Engine } from '../engine/engine.js';
import { metadataOperations } from '../engine/metadata.js';
import { reshardingOperations } from '../engine/resharding.js';
import { settingsOperations } from '../engine/settings.js';
import { subscribeOperations } from './subscribe.js';

/**
 * The operations Sluice serves, each one engine call on input already decoded and validated
 * against the API model (src/api/validation.ts). Inputs are typed by the model's shapes; the
 * casts below are safe because validation ran first. Control-plane areas export their own
 * tables (`export const xOperations: Record<string, Handler>`) that are merged here.
 */
export type Handler = (engine: Engine, input: Record<string, unknown>) => Promise<unknown>;

// biome-ignore lint/suspicious/noExplicitAny: inputs were checked against the model before this point
export type Input = any;

const core: Record<string, Handler> = {
  CreateStream: (e, i: Input) => e.createStream(i),
  DeleteStream: (e, i: Input) => e.deleteStream(i),
  DescribeStream: (e, i: Input) => e.describeStream(i),
  DescribeStreamSummary: (e, i: Input) => e.describeStreamSummary(i),
  ListStreams: (e, i: Input) => e.listStreams(i),
  ListShards: (e, i: Input) => e.listShards(i),
  PutRecord: (e, i: Input) => e.putRecord(i),
  PutRecords: (e, i: Input) => e.putRecords(i),
  GetShardIterator: (e, i: Input) => e.getShardIterator(i),
  GetRecords: (e, i: Input) => e.getRecords(i),
};

export const operations: Record<string, Handler> = {
  ...core,
  ...metadataOperations,
  ...settingsOperations,
  ...reshardingOperations,
  ...consumerOperations,
  ...subscribeOperations,
};
