/**
 * The app's error hierarchy: every failure the app answers with carries a stable `code`, the HTTP status
 * it maps to, and whether its message may be shown to the caller. Log lines use `code` as a field.
 */
export type AppErrorCode =
  | 'ERR_BAD_REQUEST'
  | 'ERR_UNAUTHENTICATED'
  | 'ERR_FORBIDDEN'
  | 'ERR_NOT_FOUND'
  | 'ERR_BODY_TOO_LARGE'
  | 'ERR_NOT_IMPLEMENTED'
  | 'ERR_NOT_CONFIGURED'
  | 'ERR_UPSTREAM'
  | 'ERR_UNAVAILABLE'
  | 'ERR_DEADLINE_EXCEEDED'
  | 'ERR_LEASE_LOST'
  | 'ERR_CONFLICT';

export abstract class AppError extends Error {
  abstract readonly code: AppErrorCode;
  abstract readonly status: number;
  /** Whether `message` may be sent to the caller (never true for anything naming a secret). */
  readonly expose: boolean = true;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The caller sent something malformed; `fields` names what is wrong, when that is known. */
export class BadRequestError extends AppError {
  readonly code = 'ERR_BAD_REQUEST';
  readonly status = 400;
  constructor(
    message: string,
    readonly fields: readonly string[] = [],
  ) {
    super(message);
  }
}

/**
 * The caller did not prove who it is. `reason` is a short, stable word for logs and metrics
 * (e.g. `signature`, `expired`, `audience`); it is never sent back.
 */
export class UnauthenticatedError extends AppError {
  readonly code = 'ERR_UNAUTHENTICATED';
  readonly status = 401;
  override readonly expose = false;
  constructor(
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`unauthenticated: ${reason}`, options);
  }
}

export class ForbiddenError extends AppError {
  readonly code = 'ERR_FORBIDDEN';
  readonly status = 403;
  constructor(
    message: string,
    readonly reason: string = 'forbidden',
  ) {
    super(message);
  }
}

export class NotFoundError extends AppError {
  readonly code = 'ERR_NOT_FOUND';
  readonly status = 404;
}

export class BodyTooLargeError extends AppError {
  readonly code = 'ERR_BODY_TOO_LARGE';
  readonly status = 413;
  constructor(readonly limitBytes: number) {
    super(`request body is larger than ${limitBytes} bytes`);
  }
}

export class NotImplementedError extends AppError {
  readonly code = 'ERR_NOT_IMPLEMENTED';
  readonly status = 501;
}

/** A feature's settings are missing or malformed. The message names the settings, never their values. */
export class NotConfiguredError extends AppError {
  readonly code = 'ERR_NOT_CONFIGURED';
  readonly status = 503;
  constructor(
    readonly feature: string,
    readonly settings: readonly string[],
  ) {
    super(`${feature} is not configured: check ${settings.join(', ')}`);
  }
}

/** A Microsoft service the app depends on failed (e.g. Graph answered 5xx). */
export class UpstreamError extends AppError {
  readonly code = 'ERR_UPSTREAM';
  readonly status = 502;
  override readonly expose = false;
}

/** Graph answered a part of a JSON `$batch` with a failure; `statusCode` is the part's status. */
export class BatchPartError extends UpstreamError {
  constructor(readonly statusCode: number) {
    super(`Graph answered ${statusCode} to part of a $batch`);
  }
}

/** A queue message that is not one this app writes: thrown, so that the host retries it into the poison queue. */
export class MalformedQueueMessageError extends BadRequestError {
  constructor(reason: string) {
    super(`not a notification queue message: ${reason}`);
  }
}

/** Another run took over the Graph sync lease (this one stalled past its expiry): its work stops. */
export class LeaseLostError extends AppError {
  readonly code = 'ERR_LEASE_LOST';
  readonly status = 503;
  override readonly expose = false;
  constructor() {
    super('the Graph sync lease was taken over by another run');
  }
}

/** A row guarded by its ETag kept changing under a read-modify-write (other writers progressed): retry later. */
export class WriteConflictError extends AppError {
  readonly code = 'ERR_CONFLICT';
  readonly status = 503;
  override readonly expose = false;
}

/** Our own infrastructure (storage) failed: 503 so that the caller retries. */
export class UnavailableError extends AppError {
  readonly code = 'ERR_UNAVAILABLE';
  readonly status = 503;
  override readonly expose = false;
}

/** Work did not settle in time (withinDeadline): 503, so that the caller retries. */
export class DeadlineExceededError extends AppError {
  readonly code = 'ERR_DEADLINE_EXCEEDED';
  readonly status = 503;
  override readonly expose = false;
  constructor(readonly ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

/** Normalises anything thrown into an Error (as @azure/functions' own `ensureErrorType` does). */
export function ensureError(err: unknown): Error {
  if (err instanceof Error) return err;
  if (typeof err === 'string') return new Error(err);
  if (err === undefined || err === null) return new Error('Unknown error');
  try {
    return new Error(JSON.stringify(err));
  } catch {
    return new Error(Object.prototype.toString.call(err));
  }
}
