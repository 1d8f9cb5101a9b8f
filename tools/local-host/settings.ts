import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** What the local host reads from the app folder, as Core Tools does. */
export interface HostSettings {
  routePrefix: string;
  queues: {
    messageEncoding: 'base64' | 'none';
    batchSize: number;
    maxDequeueCount: number;
    visibilityTimeoutMs: number;
    maxPollingIntervalMs: number;
  };
}

/**
 * Loads `local.settings.json` (or, on a fresh clone, `local.settings.json.example`) into the environment.
 * Variables already set win, so a shell or a test can override any value. Returns the file used.
 */
export function loadLocalSettings(appDir: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const name of ['local.settings.json', 'local.settings.json.example']) {
    const file = join(appDir, name);
    if (!existsSync(file)) continue;
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, unknown> };
    for (const [key, value] of Object.entries(parsed.Values ?? {})) {
      if (env[key] === undefined && typeof value === 'string') env[key] = value;
    }
    return name;
  }
  return undefined;
}

/** `hh:mm:ss` (with optional fraction) to milliseconds. */
export function parseTimeSpan(value: string): number {
  const match = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(value.trim());
  if (!match) throw new Error(`"${value}" is not a TimeSpan (hh:mm:ss)`);
  const [, days = '0', h = '0', m = '0', s = '0'] = match;
  return Math.round((((Number(days) * 24 + Number(h)) * 60 + Number(m)) * 60 + Number(s)) * 1000);
}

/**
 * host.json's queue and HTTP settings, with the host's defaults (maxPollingInterval is 2 s when running
 * locally) and the host's app-setting overrides, e.g. `AzureFunctionsJobHost__extensions__queues__maxDequeueCount`.
 */
export function readHostSettings(appDir: string, env: NodeJS.ProcessEnv = process.env): HostSettings {
  const hostJson = JSON.parse(readFileSync(join(appDir, 'host.json'), 'utf8')) as {
    extensions?: { queues?: Record<string, unknown>; http?: Record<string, unknown> };
  };
  const fromHost = (section: 'queues' | 'http', key: string): unknown =>
    env[`AzureFunctionsJobHost__extensions__${section}__${key}`] ?? hostJson.extensions?.[section]?.[key];
  const num = (value: unknown, fallback: number): number => (value === undefined ? fallback : Number(value));
  const span = (value: unknown, fallback: number): number =>
    typeof value === 'string' ? parseTimeSpan(value) : fallback;
  const encoding = fromHost('queues', 'messageEncoding') ?? 'base64';
  if (encoding !== 'base64' && encoding !== 'none') throw new Error(`unknown messageEncoding ${JSON.stringify(encoding)}`);
  const prefix = fromHost('http', 'routePrefix');
  return {
    routePrefix: typeof prefix === 'string' ? prefix : 'api',
    queues: {
      messageEncoding: encoding,
      batchSize: Math.min(32, num(fromHost('queues', 'batchSize'), 16)),
      maxDequeueCount: num(fromHost('queues', 'maxDequeueCount'), 5),
      visibilityTimeoutMs: span(fromHost('queues', 'visibilityTimeout'), 0),
      maxPollingIntervalMs: span(fromHost('queues', 'maxPollingInterval'), 2000),
    },
  };
}
