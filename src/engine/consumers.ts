import type { Handler, Input } from '../api/operations.js';
import { kinesis } from '../limits.js';
import { errors } from '../protocol/errors.js';
import type { ConsumerDoc, StreamDoc } from '../store/store.js';
import type { Engine } from './engine.js';
import { messages } from './messages.js';
import { openPage, sealPage } from './tokens.js';

/**
 * Enhanced fan-out consumers: registered on a stream (kept in its document), CREATING for
 * `createStreamMs` then ACTIVE, DELETING for `deleteStreamMs` then gone, at most 20 per stream.
 * A consumer is named by its ARN, or by its stream's ARN and its name.
 */

/** `arn:aws:kinesis:<region>:<account>:stream/<stream>/consumer/<name>:<creation epoch seconds>` */
const consumerArnPattern = /^(arn:aws[^:]*:kinesis:[^:]*:\d{12}:stream\/[^/]+)\/consumer\/([^:]+):(\d+)$/;

export function consumerArnOf(engine: Engine, doc: StreamDoc, consumer: ConsumerDoc): string {
  return `${engine.arnOf(doc.name)}/consumer/${consumer.name}:${Math.floor(consumer.createdMs / 1000)}`;
}

export interface ConsumerRef {
  ConsumerARN?: string;
  StreamARN?: string;
  ConsumerName?: string;
}

/** The stream and consumer a request names; ResourceNotFoundException when either is missing. */
export function findConsumer(engine: Engine, ref: ConsumerRef): { doc: StreamDoc; consumer: ConsumerDoc } {
  const account = engine.config.accountId;
  if (ref.ConsumerARN !== undefined) {
    const match = consumerArnPattern.exec(ref.ConsumerARN);
    if (!match) throw errors.invalidArgument(messages.invalidConsumerArn(ref.ConsumerARN));
    const [, streamArn = '', name = '', created = ''] = match;
    const doc = engine.find({ StreamARN: streamArn });
    const consumer = (doc.consumers ?? []).find(
      (c) => c.name === name && String(Math.floor(c.createdMs / 1000)) === created,
    );
    if (!consumer) throw errors.resourceNotFound(messages.consumerNotFound(name, created, doc.name, account));
    return { doc, consumer };
  }
  if (ref.StreamARN === undefined || ref.ConsumerName === undefined) {
    throw errors.invalidArgument(messages.consumerRefRequired);
  }
  const doc = engine.find({ StreamARN: ref.StreamARN });
  const consumer = (doc.consumers ?? []).find((c) => c.name === ref.ConsumerName);
  if (!consumer)
    throw errors.resourceNotFound(messages.consumerNotFound(ref.ConsumerName, undefined, doc.name, account));
  return { doc, consumer };
}

function describe(engine: Engine, doc: StreamDoc, consumer: ConsumerDoc) {
  return {
    ConsumerName: consumer.name,
    ConsumerARN: consumerArnOf(engine, doc, consumer),
    ConsumerStatus: consumer.status,
    ConsumerCreationTimestamp: new Date(Math.floor(consumer.createdMs / 1000) * 1000),
  };
}

async function register(
  engine: Engine,
  input: { StreamARN: string; ConsumerName: string; Tags?: Record<string, string> },
) {
  const account = engine.config.accountId;
  const now = Date.now();
  let created: ConsumerDoc | undefined;
  const doc = await engine.modify({ StreamARN: input.StreamARN }, (current) => {
    if (current.status !== 'ACTIVE' && current.status !== 'UPDATING') {
      throw errors.resourceInUse(messages.streamNotActive(current.name, account, current.status));
    }
    const consumers = current.consumers ?? [];
    if (consumers.some((c) => c.name === input.ConsumerName)) {
      throw errors.resourceInUse(messages.consumerExists(input.ConsumerName, current.name, account));
    }
    if (consumers.length >= kinesis.consumersPerStream) {
      throw errors.limitExceeded(messages.consumerLimit(current.name, account, kinesis.consumersPerStream));
    }
    const transient = engine.config.createStreamMs > 0;
    created = {
      name: input.ConsumerName,
      createdMs: now,
      status: transient ? 'CREATING' : 'ACTIVE',
      ...(transient ? { statusUntilMs: now + engine.config.createStreamMs } : {}),
      ...(input.Tags ? { tags: input.Tags } : {}),
    };
    return { ...current, consumers: [...consumers, created] };
  });
  return { Consumer: describe(engine, doc, created as ConsumerDoc) };
}

async function deregister(engine: Engine, input: ConsumerRef) {
  const { doc, consumer } = findConsumer(engine, input);
  const now = Date.now();
  await engine.modify({ StreamName: doc.name }, (current) => ({
    ...current,
    consumers: (current.consumers ?? []).flatMap((c) => {
      if (c.name !== consumer.name || c.createdMs !== consumer.createdMs) return [c];
      if (engine.config.deleteStreamMs <= 0) return [];
      return [{ ...c, status: 'DELETING' as const, statusUntilMs: now + engine.config.deleteStreamMs }];
    }),
  }));
  return {};
}

function describeConsumer(engine: Engine, input: ConsumerRef) {
  const { doc, consumer } = findConsumer(engine, input);
  return { ConsumerDescription: { ...describe(engine, doc, consumer), StreamARN: engine.arnOf(doc.name) } };
}

interface ConsumerPage {
  s: string;
  c: number;
  a: number;
  t: number;
}

function list(
  engine: Engine,
  input: { StreamARN: string; NextToken?: string; MaxResults?: number; StreamCreationTimestamp?: Date },
) {
  const doc = engine.find({ StreamARN: input.StreamARN });
  let from = 0;
  if (input.NextToken !== undefined) {
    const page = openPage<ConsumerPage>(engine.sealer, input.NextToken);
    if (!page || page.s !== doc.name || page.c !== doc.createdMs) {
      throw errors.invalidArgument(messages.invalidNextToken);
    }
    if (Date.now() - page.t > kinesis.nextTokenTtlMs)
      throw errors.expiredNextToken(messages.expiredNextToken);
    from = page.a;
  }
  const all = doc.consumers ?? [];
  const limit = input.MaxResults ?? kinesis.listConsumersDefaultResults;
  const page = all.slice(from, from + limit);
  const more = from + page.length < all.length;
  return {
    Consumers: page.map((c) => describe(engine, doc, c)),
    NextToken: more
      ? sealPage(engine.sealer, { s: doc.name, c: doc.createdMs, a: from + page.length, t: Date.now() })
      : undefined,
  };
}

export const consumerOperations: Record<string, Handler> = {
  RegisterStreamConsumer: (e, i: Input) => register(e, i),
  DeregisterStreamConsumer: (e, i: Input) => deregister(e, i),
  DescribeStreamConsumer: async (e, i: Input) => describeConsumer(e, i),
  ListStreamConsumers: async (e, i: Input) => list(e, i),
};
