/**
 * The JSON 1.1 wire format: blobs travel as base64 strings and timestamps as epoch seconds
 * (fractional). Handlers produce wire-neutral values (Buffer, Date); this turns them into JSON.
 */
export const jsonContentType = 'application/x-amz-json-1.1';

function toWire(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (value instanceof Date) return value.getTime() / 1000;
  if (Array.isArray(value)) return value.map(toWire);
  const out: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) {
    if (member !== undefined) out[key] = toWire(member);
  }
  return out;
}

export function encodeJson(value: unknown): string {
  return JSON.stringify(toWire(value));
}
