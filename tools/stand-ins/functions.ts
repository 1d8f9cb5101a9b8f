import { HttpRequest, InvocationContext } from '@azure/functions';

import { setEnv } from './env';

export interface LogLine {
  level: string;
  message: string;
}

/** A real InvocationContext whose log lines are kept for assertions. */
export function testContext(functionName = 'test', triggerMetadata?: Record<string, unknown>): {
  context: InvocationContext;
  logs: LogLine[];
} {
  const logs: LogLine[] = [];
  const context = new InvocationContext({
    functionName,
    invocationId: `test-${Math.random().toString(16).slice(2)}`,
    logHandler: (level, ...args) => logs.push({ level, message: args.map(String).join(' ') }),
    ...(triggerMetadata ? { triggerMetadata } : {}),
  });
  return { context, logs };
}

export interface RequestInit {
  method?: string;
  url: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  params?: Record<string, string>;
  body?: string | Buffer;
}

/** A real HttpRequest, body given as the exact bytes the caller sends. */
export function httpRequest(init: RequestInit): HttpRequest {
  const body =
    init.body === undefined ? undefined : typeof init.body === 'string' ? { string: init.body } : { bytes: init.body };
  return new HttpRequest({
    method: init.method ?? 'GET',
    url: init.url,
    headers: init.headers ?? {},
    query: init.query ?? {},
    params: init.params ?? {},
    ...(body ? { body } : {}),
  });
}

/** Runs `fn` with the given environment variables set (undefined removes one), then restores them. */
export async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T> | T): Promise<T> {
  const restore = setEnv(vars);
  try {
    return await fn();
  } finally {
    restore();
  }
}
