import Module from 'node:module';

/**
 * The part of `@azure/functions-core` that @azure/functions uses. In Azure the Node worker supplies that
 * module; here the local host does, so the app registers its functions exactly as it does in Azure.
 * Shapes follow the worker's RPC types (types-core in azure-functions-nodejs-library).
 */

export interface RpcTypedData {
  string?: string | null;
  json?: string | null;
  bytes?: Uint8Array | null;
  int?: number | null;
  double?: number | null;
  http?: Record<string, unknown> | null;
}

export interface RpcBindingInfo {
  type?: string | null;
  direction?: 'in' | 'out' | 'inout' | null;
  [key: string]: unknown;
}

export interface FunctionMetadata {
  name: string;
  bindings: Record<string, RpcBindingInfo>;
  retryOptions?: unknown;
}

export type LogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';

export interface CoreInvocationContext {
  invocationId: string;
  request: {
    inputData?: { name: string; data: RpcTypedData }[];
    triggerMetadata?: Record<string, RpcTypedData>;
  };
  metadata: FunctionMetadata;
  state?: string;
  log(level: LogLevel, category: 'user' | 'system', message: string): void;
}

export interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], handler: FunctionCallback): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<{ returnValue?: RpcTypedData | null }>;
}

export interface ProgrammingModel {
  name: string;
  version: string;
  getInvocationModel(coreCtx: CoreInvocationContext): InvocationModel;
  getCapabilities(capabilities: Record<string, string>): Promise<Record<string, string>>;
}

export type FunctionCallback = (...args: unknown[]) => unknown;
export type HookCallback = (context: Record<string, unknown>) => unknown;

export interface RegisteredFunction {
  metadata: FunctionMetadata;
  callback: FunctionCallback;
}

export interface Disposable {
  dispose(): void;
}

export class CoreApi {
  programmingModel: ProgrammingModel | undefined;
  readonly functions: RegisteredFunction[] = [];
  readonly hooks = new Map<string, HookCallback[]>();

  constructor(private readonly systemLog: (level: LogLevel, message: string) => void) {}

  /** The module object handed to `require('@azure/functions-core')`. */
  module(): Record<string, unknown> {
    return {
      version: '3.10.1',
      hostVersion: '4.0.0-local',
      setProgrammingModel: (model: ProgrammingModel) => {
        this.programmingModel = model;
      },
      getProgrammingModel: () => this.programmingModel,
      registerFunction: (metadata: FunctionMetadata, callback: FunctionCallback): Disposable => {
        if (this.functions.some((f) => f.metadata.name === metadata.name)) {
          throw new Error(`A function named "${metadata.name}" is already registered.`);
        }
        const entry = { metadata, callback };
        this.functions.push(entry);
        return { dispose: () => this.functions.splice(this.functions.indexOf(entry), 1) };
      },
      registerHook: (hookName: string, callback: HookCallback): Disposable => {
        const list = this.hooks.get(hookName) ?? [];
        list.push(callback);
        this.hooks.set(hookName, list);
        return { dispose: () => list.splice(list.indexOf(callback), 1) };
      },
      log: (level: LogLevel, _category: string, message: string) => this.systemLog(level, message),
    };
  }

  async runHooks(hookName: string, context: Record<string, unknown>): Promise<void> {
    for (const hook of this.hooks.get(hookName) ?? []) await hook(context);
  }

  /** Makes `require('@azure/functions-core')` resolve to this API, as the Node worker does. */
  install(): void {
    const api = this.module();
    type Require = (this: NodeJS.Module, id: string) => unknown;
    const proto = Module.prototype as unknown as { require: Require };
    const original = proto.require;
    proto.require = function (this: NodeJS.Module, id: string): unknown {
      return id === '@azure/functions-core' ? api : original.call(this, id);
    };
  }
}
