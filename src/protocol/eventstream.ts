import { EventStreamCodec } from '@smithy/eventstream-codec';
import type { MessageHeaders } from '@smithy/types';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';

/**
 * The AWS event-stream framing (application/vnd.amazon.eventstream) used by SubscribeToShard:
 * prelude with lengths and CRC32, typed headers, payload, message CRC32; done by Smithy's codec.
 */
const codec = new EventStreamCodec(toUtf8, fromUtf8);

export const eventStreamContentType = 'application/vnd.amazon.eventstream';

const text = (value: string) => ({ type: 'string' as const, value });

/** An event message: `:message-type` event, the event's type, its payload's content type. */
export function eventMessage(eventType: string, contentType: string, payload: Uint8Array): Uint8Array {
  const headers: MessageHeaders = {
    ':message-type': text('event'),
    ':event-type': text(eventType),
    ':content-type': text(contentType),
  };
  return codec.encode({ headers, body: payload });
}

/** A modelled error inside the stream: `:message-type` exception and `:exception-type`. */
export function exceptionMessage(
  exceptionType: string,
  contentType: string,
  payload: Uint8Array,
): Uint8Array {
  const headers: MessageHeaders = {
    ':message-type': text('exception'),
    ':exception-type': text(exceptionType),
    ':content-type': text(contentType),
  };
  return codec.encode({ headers, body: payload });
}
