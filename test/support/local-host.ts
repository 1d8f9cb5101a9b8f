import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { LocalHost } from '../../tools/local-host/host';

const repo = resolve(__dirname, '..', '..', '..');

export interface TestHost {
  host: LocalHost;
  /** Every line the host logged so far. */
  lines: string[];
  /** The next line logged from now on that matches. */
  nextLine(pattern: RegExp): Promise<string>;
}

/**
 * Serves compiled modules (paths relative to the repo, e.g. `dist/src/functions/health.js`, or absolute)
 * through the local host with the repo's host.json, loaded as the worker loads `main`. A test file that
 * uses it must not load @azure/functions before this runs, or the library starts in test mode.
 */
export async function startTestHost(name: string, modules: readonly string[]): Promise<TestHost> {
  const appDir = mkdtempSync(join(tmpdir(), `${name}-`));
  writeFileSync(join(appDir, 'package.json'), JSON.stringify({ name, main: 'app.js' }));
  writeFileSync(join(appDir, 'app.js'), modules.map((m) => `require(${JSON.stringify(resolve(repo, m))});`).join('\n'));
  writeFileSync(join(appDir, 'host.json'), readFileSync(join(repo, 'host.json')));
  const events = new EventEmitter();
  const lines: string[] = [];
  const host = new LocalHost({
    appDir,
    port: 0,
    log: (line) => {
      lines.push(line);
      events.emit('line', line);
    },
  });
  await host.start();
  return {
    host,
    lines,
    nextLine: (pattern) =>
      new Promise((done) => {
        const listener = (line: string): void => {
          if (!pattern.test(line)) return;
          events.off('line', listener);
          done(line);
        };
        events.on('line', listener);
      }),
  };
}

/** `dist/src/index.js` and the named functions' compiled files. */
export function appModules(...functions: string[]): string[] {
  return ['dist/src/index.js', ...functions.map((f) => `dist/src/functions/${f}.js`)];
}
