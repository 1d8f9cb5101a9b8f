import { type LoopbackServer, type RecordedRequest, type Reply, startLoopbackServer } from './loopback';

/**
 * A loopback stand-in for Microsoft Graph: routes registered per test (`on('POST', /^\/v1.0\/.../, ...)`),
 * every request recorded, unknown routes answered 404 with Graph's error shape.
 */
export interface GraphServer extends LoopbackServer {
  requests: RecordedRequest[];
  on(method: string, path: RegExp, reply: (request: RecordedRequest, match: RegExpExecArray) => Reply | Promise<Reply>): void;
  reset(): void;
}

type Route = { method: string; path: RegExp; reply: (request: RecordedRequest, match: RegExpExecArray) => Reply | Promise<Reply> };

export function graphError(status: number, code: string, message = code, headers: Record<string, string> = {}): Reply {
  return { status, headers, json: { error: { code, message } } };
}

export async function startGraphServer(): Promise<GraphServer> {
  const routes: Route[] = [];
  const requests: RecordedRequest[] = [];
  const server = await startLoopbackServer((request) => {
    requests.push(request);
    for (const route of routes) {
      const match = route.method === request.method ? route.path.exec(request.path) : null;
      if (match) return route.reply(request, match);
    }
    return graphError(404, 'Request_ResourceNotFound', `no stand-in route for ${request.method} ${request.path}`);
  });
  return {
    ...server,
    requests,
    on(method, path, reply) {
      routes.unshift({ method, path, reply });
    },
    reset() {
      routes.length = 0;
      requests.length = 0;
    },
  };
}
