/**
 * Structured log lines through the invocation context, so the host ties them to the invocation in
 * Application Insights. Each line is `<event> <json fields>`: a stable event name first (easy to filter
 * in KQL), then fields. Never pass a secret, a token, a signature or a clientState value as a field.
 */
export type LogFields = Record<string, string | number | boolean | null | undefined | readonly string[]>;

export type LogLevel = 'info' | 'warn' | 'error';

/**
 * Where lines go: the Functions invocation context satisfies it as it is, so feature code takes a Logger
 * and never the framework's types, and tests hand in a recorder.
 */
export interface Logger {
  readonly functionName: string;
  info(line: string): void;
  warn(line: string): void;
  error(line: string): void;
}

export function logEvent(context: Logger, level: LogLevel, event: string, fields: LogFields = {}): void {
  const line = `${event} ${JSON.stringify({ function: context.functionName, ...fields })}`;
  if (level === 'error') context.error(line);
  else if (level === 'warn') context.warn(line);
  else context.info(line);
}
