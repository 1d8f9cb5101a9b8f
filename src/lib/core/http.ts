import type { ReadableStream } from 'node:stream/web';


import { AppError, BadRequestError, BodyTooLargeError, ensureError, NotConfiguredError, UnauthenticatedError } from './errors';
import { type Logger, logEvent } from './log';

/** What the feature code reads of an HTTP request (the Functions `HttpRequest` is one). */
export interface InboundRequest {
  readonly headers: { get(name: string): string | null };
  readonly query: URLSearchParams;
  readonly body: ReadableStream<Uint8Array> | null;
}

/** What the feature code answers with (a Functions `HttpResponseInit`, as the handlers return it). */
export interface HttpAnswer {
  status: number;
  headers?: Record<string, string>;
  jsonBody?: unknown;
  body?: string;
}

/** Every HTTP endpoint refuses bodies over 1 MiB and never buffers more than that. */
const MAX_BODY_BYTES = 1024 * 1024;
/**
 * What is read and dropped of an oversized body before answering 413: the Functions host's own cap on
 * request bodies. Reading the rest (without keeping it) leaves the connection the request came on in a
 * state to carry the next request; cancelling the stream instead stalls the pooled connection between
 * the host and the worker's HTTP proxy.
 */
const MAX_DISCARDED_BYTES = 100 * 1024 * 1024;

/**
 * Reads the body as the exact bytes sent, keeping at most `limit` (the app runs with HTTP streaming, so
 * nothing beyond what is kept here is buffered by the worker).
 */
export async function readBody(request: InboundRequest, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(request.headers.get('content-length'));
  const body = request.body;
  if (Number.isFinite(declared) && declared > limit) {
    if (body && declared <= MAX_DISCARDED_BYTES) await discard(body);
    throw new BodyTooLargeError(limit);
  }
  if (!body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let total = 0;
  const reader = (body).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) {
        reader.releaseLock();
        await discard(body, total);
        throw new BodyTooLargeError(limit);
      }
      chunks.push(Buffer.from(value));
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks, total);
}

/** Reads and drops the rest of a body, up to MAX_DISCARDED_BYTES in all; beyond that it is cancelled. */
async function discard(body: ReadableStream<Uint8Array>, alreadyRead = 0): Promise<void> {
  const reader = body.getReader();
  let total = alreadyRead;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      total += value.byteLength;
      if (total > MAX_DISCARDED_BYTES) return;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Parses JSON from exactly the bytes given. Bytes that are not UTF-8, malformed JSON, and any string
 * (value or key) that is not well-formed Unicode, such as an escaped lone surrogate `"\ud800"`, are the
 * caller's error: nothing downstream has to handle text it could not store or send.
 */
export function parseJsonBytes(bytes: Buffer): unknown {
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new BadRequestError('body is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    throw new BadRequestError('body is not valid JSON');
  }
  const field = illFormedField(value, '');
  if (field !== undefined) throw new BadRequestError(`${field || 'body'} is not valid Unicode text`, [field || 'body']);
  return value;
}

/** The path (`approver`, `value[0].resource`) of the first string that is not well-formed Unicode. */
function illFormedField(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.isWellFormed() ? undefined : path;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = illFormedField(value[i], `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (isRecord(value)) {
    for (const [key, child] of Object.entries(value)) {
      if (!key.isWellFormed()) return path || 'body';
      const found = illFormedField(child, path ? `${path}.${key}` : key);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export interface ErrorResponseOptions {
  /** Extra headers on every error answer (e.g. CARD-ACTION-STATUS). */
  headers?: Record<string, string>;
  /** Whether the answer may carry a JSON body explaining the error (401s never do). */
  body?: boolean;
}

/**
 * Maps any thrown value to an HTTP answer and logs it once. AppErrors keep their status; anything else
 * is an unexpected failure: 500, logged with its message, nothing said to the caller.
 */
export function errorResponse(
  err: unknown,
  context: Logger,
  feature: string,
  options: ErrorResponseOptions = {},
): HttpAnswer {
  const error = ensureError(err);
  const headers = { 'Cache-Control': 'no-store', ...options.headers };
  if (!(error instanceof AppError)) {
    logEvent(context, 'error', 'request.failed', { feature, code: 'ERR_INTERNAL', error: error.message });
    return { status: 500, headers };
  }
  if (error instanceof NotConfiguredError) {
    logEvent(context, 'error', 'feature.notConfigured', { feature: error.feature, settings: error.settings });
  } else if (error instanceof UnauthenticatedError) {
    logEvent(context, 'warn', 'auth.rejected', { feature, code: error.code, reason: error.reason });
  } else {
    logEvent(context, error.status >= 500 ? 'error' : 'warn', 'request.rejected', {
      feature,
      code: error.code,
      status: error.status,
      ...(error.expose ? { message: error.message } : {}),
    });
  }
  if (error instanceof UnauthenticatedError || options.body === false) return { status: error.status, headers };
  const message = error.expose ? error.message : 'the request could not be completed';
  const fields = error instanceof BadRequestError && error.fields.length > 0 ? { fields: error.fields } : {};
  return { status: error.status, headers, jsonBody: { error: { code: error.code, message, ...fields } } };
}
