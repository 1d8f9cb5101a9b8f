import type { ReadableStream } from 'node:stream/web';

import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { AppError, BadRequestError, BodyTooLargeError, ensureError, NotConfiguredError, UnauthenticatedError } from './errors';
import { logEvent } from './log';

/** Every HTTP endpoint refuses bodies over 1 MiB and never buffers more than that. */
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Reads the body as the exact bytes sent, stopping as soon as it passes `limit` (the app runs with
 * HTTP streaming, so nothing beyond what is read here is buffered by the worker).
 */
export async function readBody(request: HttpRequest, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLargeError(limit);
  const body = request.body;
  if (!body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let total = 0;
  const reader = (body as ReadableStream<Uint8Array>).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const chunk = Buffer.from(value);
      total += chunk.length;
      if (total > limit) throw new BodyTooLargeError(limit);
      chunks.push(chunk);
    }
  } finally {
    // Cancel rather than drain what is left of an oversized body.
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks, total);
}

/** Parses JSON from exactly the bytes given; malformed input is the caller's error. */
export function parseJsonBytes(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    throw new BadRequestError('body is not valid JSON');
  }
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
  context: InvocationContext,
  feature: string,
  options: ErrorResponseOptions = {},
): HttpResponseInit {
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
