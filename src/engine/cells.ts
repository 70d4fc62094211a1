/**
 * Cells: a frontend belongs to one named cell (`sluice serve --cell NAME`) and every stream is
 * placed in the cell of the frontend that created it (`StreamDoc.cell`; a document without one
 * belongs to the default cell). A frontend serves only the streams of its own cell: every lookup
 * of a stream goes through `checkCell` (called by `Engine.find`, which every operation naming a
 * stream uses, and by the lookups of shard iterators and ListShards tokens), so a request for a
 * stream of another cell gets a ResourceNotFoundException naming both cells. ResourceNotFound
 * because the stream is not served at this endpoint, clients already handle it, and no client
 * retries it on the same endpoint (a retryable error would make them hammer the wrong cell).
 *
 * Stream names stay unique per account across cells (the metadata is one log), so a name taken in
 * another cell is refused with ResourceInUseException naming that cell.
 */
import { cells as limits } from '../limits.js';
import { KinesisError } from '../protocol/errors.js';
import type { StreamDoc } from '../store/store.js';

/** The cell of a frontend started without `--cell`, and of documents written before cells. */
export const defaultCell = 'default';

const namePattern = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

/** Why a cell name is refused, or undefined when it is good. */
export function cellNameProblem(name: string): string | undefined {
  if (name.length > limits.maxNameChars) return `a cell name has at most ${limits.maxNameChars} characters`;
  if (!namePattern.test(name))
    return 'a cell name is lower-case letters, digits and hyphens, starting and ending with a letter or digit';
  return undefined;
}

/** The cell a stream is placed in. */
export function cellOf(doc: Pick<StreamDoc, 'cell'>): string {
  return doc.cell ?? defaultCell;
}

/** A request named a stream of another cell (ResourceNotFoundException, see above). */
export class WrongCellError extends KinesisError {
  constructor(
    readonly streamName: string,
    readonly streamCell: string,
    readonly frontendCell: string,
    account: string,
  ) {
    super(
      'ResourceNotFoundException',
      `Stream ${streamName} under account ${account} is placed in cell '${streamCell}'; ` +
        `this frontend serves cell '${frontendCell}'. Send requests for it to a frontend of cell '${streamCell}'.`,
    );
  }
}

/** Throw WrongCellError unless the stream is placed in `cell`. */
export function checkCell(doc: StreamDoc, cell: string, account: string): StreamDoc {
  const placed = cellOf(doc);
  if (placed !== cell) throw new WrongCellError(doc.name, placed, cell, account);
  return doc;
}

/** CreateStream of a name that exists in another cell (ResourceInUseException, as for a name
 * that exists in this cell, but saying where). */
export function existsInCell(name: string, account: string, cell: string): KinesisError {
  return new KinesisError(
    'ResourceInUseException',
    `Stream ${name} under account ${account} already exists in cell '${cell}'.`,
  );
}
