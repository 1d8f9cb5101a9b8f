import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import type { QueueClient } from '@azure/storage-queue' with { 'resolution-mode': 'import' };
import { CronExpressionParser } from 'cron-parser';
import { glob } from 'tinyglobby';

import { CoreApi, type CoreInvocationContext, type LogLevel, type RegisteredFunction, type RpcTypedData } from './core-api';
import { RouteTemplate } from './routes';
import { type HostSettings, readHostSettings } from './settings';

/**
 * A development host for the app: it loads `package.json` `main` through @azure/functions exactly as the
 * Node worker does, serves the HTTP functions (streaming mode, through the library's own proxy), runs
 * queue triggers against Azure Storage/Azurite with the host's retry and poison semantics, runs timer
 * triggers on their NCRONTAB schedules, and exposes `POST /admin/functions/{name}` to run any
 * non-HTTP function on demand, as Core Tools does.
 */

export interface LocalHostOptions {
  appDir: string;
  port: number;
  /** Interface to listen on: loopback unless told otherwise (the local host checks no function keys). */
  host?: string;
  log?: (line: string) => void;
  /**
   * Poll queues and run timers (the default). Off, only HTTP is served: the cold-start bench measures
   * what the worker process does, and in Azure queue polling and schedules are the host's work.
   */
  triggers?: boolean;
}

/** What the admin API reads of a body at most (its `{"input": "..."}` is a queue message, 64 KB). */
const MAX_ADMIN_BODY_BYTES = 1024 * 1024;

/**
 * The request target as a path the host can route: origin-form only (RFC 9112 section 3.2.1), every
 * segment decodable, no `.` or `..` segment (raw or percent-encoded) that could climb out of a route.
 * Anything else is the client's error, answered 400 and never forwarded.
 */
export function routablePath(target: string | undefined): { pathname: string; search: string } | undefined {
  if (!target || !target.startsWith('/') || target.startsWith('//')) return undefined;
  const queryAt = target.indexOf('?');
  const pathname = queryAt === -1 ? target : target.slice(0, queryAt);
  const search = queryAt === -1 ? '' : target.slice(queryAt);
  if (/[^\x21-\x7e]/.test(target) || pathname.includes('\\')) return undefined;
  for (const segment of pathname.split('/')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return undefined;
    }
    if (decoded === '.' || decoded === '..' || decoded.includes('/') || decoded.includes('\\') || !decoded.isWellFormed()) {
      return undefined;
    }
  }
  return { pathname, search };
}

interface HttpFunction {
  fn: RegisteredFunction;
  triggerName: string;
  methods: string[];
  route: RouteTemplate;
}

interface QueueFunction {
  fn: RegisteredFunction;
  triggerName: string;
  queueName: string;
  connection: string;
}

interface TimerFunction {
  fn: RegisteredFunction;
  triggerName: string;
  schedule: string;
  runOnStartup: boolean;
}

/** `%NAME%` in binding values is read from the app settings, as the host does. */
export function resolveSetting(value: string, env: NodeJS.ProcessEnv = process.env): string {
  return value.replace(/%([^%]+)%/g, (_, name: string) => {
    const resolved = env[name];
    if (resolved === undefined) throw new Error(`app setting "${name}" is not set`);
    return resolved;
  });
}

const LOOPBACK = '127.0.0.1';

function closeServer(server: http.Server | undefined): Promise<void> {
  return new Promise((done) => {
    if (!server?.listening) return done();
    server.close(() => done());
    server.closeAllConnections();
  });
}

function triggerOf(fn: RegisteredFunction): [string, Record<string, unknown>] {
  const entry = Object.entries(fn.metadata.bindings).find(([, b]) => /trigger$/i.test(String(b.type)));
  if (!entry) throw new Error(`function ${fn.metadata.name} has no trigger`);
  return entry;
}

export class LocalHost {
  private readonly core: CoreApi;
  private readonly settings: HostSettings;
  private readonly log: (line: string) => void;
  private readonly http: HttpFunction[] = [];
  private readonly queues: QueueFunction[] = [];
  private readonly timers: TimerFunction[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly stopController = new AbortController();
  private server: http.Server | undefined;
  private proxyUri: string | undefined;
  port = 0;

  constructor(private readonly options: LocalHostOptions) {
    this.log = options.log ?? ((line) => console.log(line));
    this.core = new CoreApi((level, message) => {
      if (level !== 'trace' && level !== 'debug') this.log(`[worker ${level}] ${message}`);
    });
    this.settings = readHostSettings(options.appDir);
  }

  /** Loads the app, then serves it. Resolves once the HTTP port is listening. */
  async start(): Promise<void> {
    this.core.install();
    await this.loadApp();
    const model = this.core.programmingModel;
    if (!model) throw new Error('the app registered no functions through @azure/functions');
    const capabilities = await this.captureServers(() => model.getCapabilities({}));
    this.proxyUri = capabilities.HttpUri;
    this.classify();
    await this.core.runHooks('appStart', { hookData: {}, appHookData: {} });
    await this.listen();
    if (this.options.triggers === false) return;
    for (const queue of this.queues) void this.track(this.pollQueue(queue));
    for (const timer of this.timers) void this.track(this.runTimer(timer));
  }

  get url(): string {
    const host = this.options.host ?? LOOPBACK;
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.port}`;
  }

  describe(): string[] {
    return [
      ...this.http.map(
        (h) => `  ${h.fn.metadata.name}: [${h.methods.join(',')}] ${this.url}/${this.routePath(h.route.template)}`,
      ),
      ...this.queues.map((q) => `  ${q.fn.metadata.name}: queueTrigger (${q.queueName})`),
      ...this.timers.map((t) => `  ${t.fn.metadata.name}: timerTrigger (${t.schedule})`),
    ];
  }

  async stop(): Promise<void> {
    this.stopController.abort();
    await closeServer(this.server);
    await Promise.allSettled([...this.inFlight]);
    await this.core.runHooks('appTerminate', { hookData: {}, appHookData: {} });
    await Promise.all(this.libraryServers.map(closeServer));
  }

  /**
   * In Azure the worker process ends with the host; here the host may stop inside a longer-lived
   * process (tests), so it keeps hold of the HTTP proxy server the library creates, to close it.
   */
  private readonly libraryServers: http.Server[] = [];
  private async captureServers<T>(fn: () => Promise<T>): Promise<T> {
    const original = http.createServer;
    const captured = this.libraryServers;
    http.createServer = function (this: unknown, ...args: unknown[]) {
      const server = (original as (...a: unknown[]) => http.Server).apply(this, args);
      captured.push(server);
      return server;
    };
    try {
      return await fn();
    } finally {
      http.createServer = original;
    }
  }

  // --- loading ------------------------------------------------------------------------------------

  private async loadApp(): Promise<void> {
    const pkg = JSON.parse(readFileSync(join(this.options.appDir, 'package.json'), 'utf8')) as {
      main?: string;
      type?: string;
    };
    if (!pkg.main) throw new Error('package.json has no "main"');
    const files = (await glob(pkg.main, { cwd: this.options.appDir, absolute: true })).sort();
    if (files.length === 0) throw new Error(`no files match package.json main "${pkg.main}" (run npm run build)`);
    for (const file of files) {
      if (pkg.type === 'module' || file.endsWith('.mjs')) await import(file);
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS app is required, as the worker does
      else require(resolve(file));
    }
  }

  private classify(): void {
    for (const fn of this.core.functions) {
      const [triggerName, trigger] = triggerOf(fn);
      const type = String(trigger.type).toLowerCase();
      if (type === 'httptrigger') {
        const methods = ((trigger.methods as string[] | undefined) ?? ['GET', 'POST']).map((m) => m.toUpperCase());
        const route = new RouteTemplate(typeof trigger.route === 'string' ? trigger.route : fn.metadata.name);
        this.http.push({ fn, triggerName, methods, route });
      } else if (type === 'queuetrigger') {
        this.queues.push({
          fn,
          triggerName,
          queueName: resolveSetting(String(trigger.queueName)),
          connection: typeof trigger.connection === 'string' ? trigger.connection : 'AzureWebJobsStorage',
        });
      } else if (type === 'timertrigger') {
        this.timers.push({
          fn,
          triggerName,
          schedule: resolveSetting(String(trigger.schedule)),
          runOnStartup: trigger.runOnStartup === true,
        });
      } else {
        this.log(`[host] ${fn.metadata.name}: trigger "${type}" is not supported by the local host; skipped`);
      }
    }
  }

  private routePath(template: string): string {
    return [this.settings.routePrefix, template].filter((s) => s.length > 0).join('/');
  }

  // --- invocation ---------------------------------------------------------------------------------

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise)).catch(() => undefined);
    return promise;
  }

  /** Runs one invocation through the programming model, logging it the way Core Tools does. */
  private async invoke(
    fn: RegisteredFunction,
    reason: string,
    request: CoreInvocationContext['request'],
    invocationId = randomUUID(),
  ): Promise<void> {
    const model = this.core.programmingModel;
    if (!model) throw new Error('no programming model');
    const name = fn.metadata.name;
    const started = performance.now();
    this.log(`[host] Executing 'Functions.${name}' (Reason='${reason}', Id=${invocationId})`);
    const coreCtx: CoreInvocationContext = {
      invocationId,
      request,
      metadata: fn.metadata,
      state: 'invocation',
      log: (level: LogLevel, category, message) => {
        if (level === 'trace' || level === 'debug') return;
        this.log(category === 'user' ? `[${name}] ${level}: ${message}` : `[worker ${level}] ${message}`);
      },
    };
    try {
      const invocation = model.getInvocationModel(coreCtx);
      const { context, inputs } = await invocation.getArguments();
      const hookContext: Record<string, unknown> = {
        invocationContext: context,
        inputs,
        functionCallback: fn.callback,
        hookData: {},
        appHookData: {},
      };
      await this.core.runHooks('preInvocation', hookContext);
      let result: unknown;
      let error: unknown;
      try {
        result = await invocation.invokeFunction(context, inputs, hookContext.functionCallback as typeof fn.callback);
      } catch (err) {
        error = err;
      }
      Object.assign(hookContext, { result, error });
      await this.core.runHooks('postInvocation', hookContext);
      if (hookContext.error) throw hookContext.error as Error;
      await invocation.getResponse(context, hookContext.result);
      const ms = Math.round(performance.now() - started);
      this.log(`[host] Executed 'Functions.${name}' (Succeeded, Id=${invocationId}, Duration=${ms}ms)`);
    } catch (err) {
      const ms = Math.round(performance.now() - started);
      const message = err instanceof Error ? err.message : String(err);
      this.log(`[host] Executed 'Functions.${name}' (Failed, Id=${invocationId}, Duration=${ms}ms): ${message}`);
      throw err;
    }
  }

  // --- HTTP ---------------------------------------------------------------------------------------

  private listen(): Promise<void> {
    this.server = http.createServer((req, res) => {
      void this.track(this.serve(req, res)).catch((err: unknown) => {
        this.log(`[host] request failed: ${err instanceof Error ? err.message : String(err)}`);
        if (!res.headersSent) res.writeHead(500, { connection: 'close' }).end();
        else res.destroy();
      });
    });
    // A malformed request line or header is answered 400 by Node and the socket closed, never a crash.
    this.server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else socket.destroy();
    });
    return new Promise((done, fail) => {
      this.server?.once('error', fail);
      this.server?.listen(this.options.port, this.options.host ?? LOOPBACK, () => {
        this.port = (this.server?.address() as AddressInfo).port;
        done();
      });
    });
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const target = routablePath(req.url);
    if (!target) {
      req.resume();
      res.writeHead(400, { connection: 'close' }).end();
      return;
    }
    const method = (req.method ?? 'GET').toUpperCase();
    const admin = /^\/admin\/functions\/([^/]+)\/?$/.exec(target.pathname);
    if (admin && method === 'POST') return this.serveAdmin(decodeURIComponent(admin[1] ?? ''), req, res);

    const prefix = this.settings.routePrefix ? `/${this.settings.routePrefix}` : '';
    const { pathname } = target;
    if (prefix && !pathname.toLowerCase().startsWith(`${prefix.toLowerCase()}/`) && pathname !== prefix) {
      req.resume();
      res.writeHead(404).end();
      return;
    }
    const path = pathname.slice(prefix.length);
    for (const fn of this.http) {
      const match = fn.route.match(path);
      if (!match || !fn.methods.includes(method)) continue;
      return this.serveHttp(fn, match.params, target, req, res);
    }
    // Azure answers 404 for a route whose methods do not include the request's.
    req.resume();
    res.writeHead(404).end();
  }

  /**
   * Streaming mode: the request goes to the library's HTTP proxy with the invocation id, the
   * invocation runs through the programming model, and the library writes the response to the proxy.
   */
  private async serveHttp(
    fn: HttpFunction,
    params: Record<string, string>,
    target: { pathname: string; search: string },
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): Promise<void> {
    if (!this.proxyUri) throw new Error('the app must call app.setup({ enableHttpStream: true })');
    // Always the library's proxy: only the path and query come from the request.
    const forward = new URL(this.proxyUri);
    forward.pathname = target.pathname;
    forward.search = target.search;
    const invocationId = randomUUID();
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : value;
    }
    const triggerMetadata: Record<string, RpcTypedData> = {
      Headers: { json: JSON.stringify(headers) },
      Query: { json: JSON.stringify(Object.fromEntries(new URLSearchParams(target.search))) },
    };
    for (const [key, value] of Object.entries(params)) triggerMetadata[key] = { string: value };

    const proxied = http.request(forward, {
      method: req.method,
      // One connection per request: an exchange the handler cut short never leaves a half-read
      // connection in a pool for the next request to stall on.
      agent: false,
      headers: {
        ...req.headers,
        'x-ms-invocation-id': invocationId,
        'x-forwarded-host': req.headers.host ?? `localhost:${this.port}`,
        'x-forwarded-proto': 'http',
      },
    });
    const response = new Promise<void>((done, fail) => {
      proxied.once('response', (proxyRes) => {
        const out: Record<string, string | string[]> = {};
        for (const [key, value] of Object.entries(proxyRes.headers)) {
          if (value !== undefined && key !== 'x-ms-invocation-id' && key !== 'transfer-encoding') out[key] = value;
        }
        // A handler may answer before reading the whole body (413): close rather than drain it.
        if (!req.readableEnded) out.connection = 'close';
        res.writeHead(proxyRes.statusCode ?? 500, out);
        proxyRes.pipe(res);
        proxyRes.once('end', () => {
          if (!req.readableEnded) req.destroy();
          done();
        });
        proxyRes.once('error', fail);
      });
      proxied.once('error', fail);
    });
    // Settled here too, so a proxy failure before the invocation ends is never an unhandled rejection.
    response.catch(() => undefined);
    req.pipe(proxied);
    const invocation = this.invoke(
      fn.fn,
      `This function was programmatically called via the host APIs.`,
      { inputData: [{ name: fn.triggerName, data: { http: {} } }], triggerMetadata },
      invocationId,
    );
    try {
      await invocation;
    } catch {
      // A failed invocation is a 500, as in Azure; the proxy never answers it.
      proxied.destroy();
      req.unpipe(proxied);
      if (!res.headersSent) res.writeHead(500, { connection: 'close' }).end();
      else res.destroy();
      return;
    }
    await response;
  }

  /** Core Tools' admin API: `POST /admin/functions/{name}` with `{"input": "..."}` runs a function now. */
  private async serveAdmin(name: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_ADMIN_BODY_BYTES) {
        res.writeHead(413, { connection: 'close' }).end();
        req.destroy();
        return;
      }
      chunks.push(chunk as Buffer);
    }
    let input = '';
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { input?: unknown };
      input = typeof body.input === 'string' ? body.input : '';
    } catch {
      res.writeHead(400).end();
      return;
    }
    const timer = this.timers.find((t) => t.fn.metadata.name.toLowerCase() === name.toLowerCase());
    const queue = this.queues.find((q) => q.fn.metadata.name.toLowerCase() === name.toLowerCase());
    if (!timer && !queue) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(202).end();
    const run = timer
      ? this.invoke(timer.fn, 'This function was programmatically called via the host APIs.', {
          inputData: [{ name: timer.triggerName, data: this.timerInput(timer, false) }],
        })
      : this.invoke((queue as QueueFunction).fn, 'This function was programmatically called via the host APIs.', {
          inputData: [{ name: (queue as QueueFunction).triggerName, data: { string: input } }],
          triggerMetadata: { DequeueCount: { json: '1' } },
        });
    await this.track(run).catch(() => undefined);
  }

  // --- queues -------------------------------------------------------------------------------------

  private async queueClient(fn: QueueFunction, name: string): Promise<QueueClient> {
    const connection = process.env[fn.connection];
    if (!connection) throw new Error(`queue trigger ${fn.fn.metadata.name}: app setting "${fn.connection}" is not set`);
    const { QueueClient } = await import('@azure/storage-queue');
    const client = new QueueClient(connection, name);
    await client.createIfNotExists();
    return client;
  }

  private async pollQueue(fn: QueueFunction): Promise<void> {
    const { signal } = this.stopController;
    const { batchSize, maxPollingIntervalMs } = this.settings.queues;
    let queue: QueueClient | undefined;
    let poison: QueueClient | undefined;
    let idleMs = 100;
    while (!signal.aborted) {
      try {
        queue ??= await this.queueClient(fn, fn.queueName);
        poison ??= await this.queueClient(fn, `${fn.queueName}-poison`);
        const { receivedMessageItems } = await queue.receiveMessages({
          numberOfMessages: batchSize,
          visibilityTimeout: 600,
        });
        if (receivedMessageItems.length > 0) {
          idleMs = 100;
          const target = { queue, poison };
          await Promise.all(receivedMessageItems.map((m) => this.track(this.handleMessage(fn, target, m))));
          continue;
        }
        idleMs = Math.min(maxPollingIntervalMs, idleMs * 2);
      } catch (err) {
        if (signal.aborted) return;
        this.log(`[host] ${fn.fn.metadata.name}: polling ${fn.queueName} failed: ${(err as Error).message}`);
        idleMs = maxPollingIntervalMs;
      }
      await delay(idleMs, undefined, { signal }).catch(() => undefined);
    }
  }

  private async handleMessage(
    fn: QueueFunction,
    target: { queue: QueueClient; poison: QueueClient },
    message: Awaited<ReturnType<QueueClient['receiveMessages']>>['receivedMessageItems'][number],
  ): Promise<void> {
    const { maxDequeueCount, messageEncoding, visibilityTimeoutMs } = this.settings.queues;
    const toPoison = async (): Promise<void> => {
      await target.poison.sendMessage(message.messageText);
      await target.queue.deleteMessage(message.messageId, message.popReceipt);
      this.log(
        `[host] Message ${message.messageId} has reached MaxDequeueCount of ${maxDequeueCount}. ` +
          `Moving message to queue '${fn.queueName}-poison'.`,
      );
    };
    if (message.dequeueCount > maxDequeueCount) return toPoison();
    const text =
      messageEncoding === 'base64' ? Buffer.from(message.messageText, 'base64').toString('utf8') : message.messageText;
    const json = (value: unknown): RpcTypedData => ({ json: JSON.stringify(value) });
    try {
      await this.invoke(fn.fn, `New queue message detected on '${fn.queueName}'.`, {
        inputData: [{ name: fn.triggerName, data: { string: text } }],
        triggerMetadata: {
          QueueTrigger: { string: text },
          Id: { string: message.messageId },
          PopReceipt: { string: message.popReceipt },
          DequeueCount: json(message.dequeueCount),
          InsertionTime: json(message.insertedOn.toISOString()),
          ExpirationTime: json(message.expiresOn.toISOString()),
          NextVisibleTime: json(message.nextVisibleOn.toISOString()),
        },
      });
      await target.queue.deleteMessage(message.messageId, message.popReceipt);
    } catch {
      if (message.dequeueCount >= maxDequeueCount) return toPoison();
      await target.queue.updateMessage(
        message.messageId,
        message.popReceipt,
        undefined,
        Math.round(visibilityTimeoutMs / 1000),
      );
    }
  }

  // --- timers -------------------------------------------------------------------------------------

  private last = new Map<string, Date>();

  private timerInput(fn: TimerFunction, isPastDue: boolean): RpcTypedData {
    const now = new Date();
    const next = CronExpressionParser.parse(fn.schedule, { currentDate: now, tz: 'UTC' }).next().toDate();
    const last = this.last.get(fn.fn.metadata.name) ?? now;
    this.last.set(fn.fn.metadata.name, now);
    return {
      json: JSON.stringify({
        Schedule: { AdjustForDST: true },
        ScheduleStatus: { Last: last.toISOString(), Next: next.toISOString(), LastUpdated: now.toISOString() },
        IsPastDue: isPastDue,
      }),
    };
  }

  private async runTimer(fn: TimerFunction): Promise<void> {
    const { signal } = this.stopController;
    const fire = async (): Promise<void> => {
      await this.invoke(fn.fn, 'Timer fired', {
        inputData: [{ name: fn.triggerName, data: this.timerInput(fn, false) }],
      }).catch(() => undefined);
    };
    if (fn.runOnStartup) await fire();
    while (!signal.aborted) {
      const next = CronExpressionParser.parse(fn.schedule, { currentDate: new Date(), tz: 'UTC' }).next().toDate();
      // setTimeout holds at most ~24.8 days, so long waits are taken in steps.
      while (!signal.aborted && Date.now() < next.getTime()) {
        const wait = Math.min(next.getTime() - Date.now(), 2 ** 31 - 1);
        await delay(wait, undefined, { signal }).catch(() => undefined);
      }
      if (signal.aborted) return;
      await this.track(fire());
    }
  }
}
