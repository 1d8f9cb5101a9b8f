import type { Client, GraphRequest } from '@microsoft/microsoft-graph-client';

import { isRecord } from '../core/http';

/**
 * One retry policy for every Graph call of the pipeline: 429 and 5xx (and network failures) are retried,
 * waiting what `Retry-After` says (seconds, fractional allowed, or an HTTP date) or else an exponential
 * backoff with jitter, inside a bounded budget. Past the budget the error is thrown, so the queue or timer
 * invocation fails and the Functions host retries it later (and, for queue messages, finally poisons it).
 *
 * The SDK's own RetryHandler is switched off per request (see `withoutSdkRetry`), so that there is exactly
 * one policy and its budget is the whole story.
 */
export interface RetryPolicy {
  maxAttempts: number;
  /** Total time spent waiting between attempts, at most. */
  maxWaitMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 6, maxWaitMs: 60_000, baseDelayMs: 250, maxDelayMs: 20_000 };

const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);

export interface GraphFailure {
  status: number;
  code?: string;
  retryAfterMs?: number;
}

/** Status, Graph error code and Retry-After of anything the Graph client throws. */
export function graphFailure(err: unknown): GraphFailure {
  if (!isRecord(err)) return { status: -1 };
  const status = typeof err.statusCode === 'number' ? err.statusCode : -1;
  const code = typeof err.code === 'string' ? err.code : undefined;
  const headers = err.headers as { get?: (name: string) => string | null } | undefined;
  const retryAfter = typeof headers?.get === 'function' ? headers.get('Retry-After') : null;
  const retryAfterMs = parseRetryAfter(retryAfter);
  return { status, ...(code ? { code } : {}), ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
}

/** `Retry-After` as milliseconds: delta-seconds (Graph sends fractions, e.g. `2.128`) or an HTTP date. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

/** Network failures (no status) and throttling/server errors are worth another attempt. */
export function isRetryable(status: number): boolean {
  return status <= 0 || RETRYABLE.has(status);
}

/** Tracks one operation's attempts and waits against its policy. */
export class RetryBudget {
  private attempts = 0;
  private waitedMs = 0;

  constructor(private readonly policy: RetryPolicy = DEFAULT_RETRY_POLICY) {}

  /**
   * After a failed attempt: waits and returns true when another attempt fits the budget, returns false
   * (without waiting) when it does not.
   */
  async waitBeforeRetry(retryAfterMs: number | undefined): Promise<boolean> {
    this.attempts++;
    if (this.attempts >= this.policy.maxAttempts) return false;
    const backoff = Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** (this.attempts - 1));
    const delay = retryAfterMs ?? Math.round(backoff / 2 + (Math.random() * backoff) / 2);
    if (this.waitedMs + delay > this.policy.maxWaitMs) return false;
    this.waitedMs += delay;
    await new Promise((done) => setTimeout(done, delay));
    return true;
  }
}

/** Runs `attempt` until it succeeds, fails for good, or the budget is spent (then the last error is thrown). */
async function withGraphRetry<T>(attempt: () => Promise<T>, policy: RetryPolicy = DEFAULT_RETRY_POLICY): Promise<T> {
  const budget = new RetryBudget(policy);
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      const failure = graphFailure(err);
      if (!isRetryable(failure.status) || !(await budget.waitBeforeRetry(failure.retryAfterMs))) throw err;
    }
  }
}

/** The SDK's RetryHandler would retry on its own schedule; this policy is the only one. */
export async function withoutSdkRetry(request: GraphRequest): Promise<GraphRequest> {
  const { RetryHandlerOptions } = await import('@microsoft/microsoft-graph-client');
  return request.middlewareOptions([new RetryHandlerOptions(0, 0)]);
}

/** One Graph call under the retry policy; `url` is relative to the version root or an absolute nextLink. */
export function callGraph(
  client: Client,
  method: 'get' | 'post' | 'patch' | 'delete',
  url: string,
  body?: unknown,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
): Promise<unknown> {
  return withGraphRetry(async () => {
    const request = await withoutSdkRetry(client.api(url));
    const result: unknown =
      method === 'get' ? await request.get() : method === 'delete' ? await request.delete() : await request[method](body);
    return result;
  }, policy);
}

/**
 * A nextLink or deltaLink as a path for the client: Graph returns absolute links on its own origin, and
 * the SDK only parses https ones, so the configured `${baseUrl}/v1.0` is stripped. A link to any other
 * origin is refused rather than followed.
 */
export function graphLinkPath(link: string, baseUrl: string): string {
  if (link.startsWith('/')) return link;
  const root = `${baseUrl.replace(/\/+$/, '')}/v1.0/`;
  if (!link.toLowerCase().startsWith(root.toLowerCase())) throw new Error('Graph returned a link outside the configured Graph root');
  return `/${link.slice(root.length)}`;
}
