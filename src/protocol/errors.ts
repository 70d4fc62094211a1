/** An error the service returns to a client: its name (`__type`), message and HTTP status. */
export class KinesisError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly statusCode = 400,
  ) {
    super(message);
    this.name = type;
  }
}

export const errors = {
  resourceNotFound: (message: string) => new KinesisError('ResourceNotFoundException', message),
  resourceInUse: (message: string) => new KinesisError('ResourceInUseException', message),
  invalidArgument: (message: string) => new KinesisError('InvalidArgumentException', message),
  limitExceeded: (message: string) => new KinesisError('LimitExceededException', message),
  expiredIterator: (message: string) => new KinesisError('ExpiredIteratorException', message),
  throughputExceeded: (message: string) =>
    new KinesisError('ProvisionedThroughputExceededException', message),
  expiredNextToken: (message: string) => new KinesisError('ExpiredNextTokenException', message),
  internal: () =>
    new KinesisError(
      'InternalFailure',
      'The request processing has failed because of an unknown error, exception or failure.',
      500,
    ),
};
