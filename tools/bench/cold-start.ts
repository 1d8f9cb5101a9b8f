import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { type BenchRow, median } from './table';

const repo = resolve(__dirname, '..', '..', '..');
const probe = join(__dirname, 'cold-start-probe.js');

/** A one-function app on @azure/functions alone: the anchor every cold start is compared with. */
function helloApp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hello-app-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'hello', main: 'index.js' }));
  writeFileSync(
    join(dir, 'index.js'),
    `const { app } = require(${JSON.stringify(require.resolve('@azure/functions'))});\n` +
      `app.http('hello', { handler: async () => ({ body: 'hello' }) });\n`,
  );
  return dir;
}

function load(appDir: string): { ms: number; functions: number } {
  return JSON.parse(execFileSync(process.execPath, [probe, appDir], { encoding: 'utf8' })) as {
    ms: number;
    functions: number;
  };
}

export function coldStart(runs = 15): BenchRow[] {
  const hello = helloApp();
  const appTimes: number[] = [];
  const helloTimes: number[] = [];
  let functions = 0;
  load(repo); // warm the file system cache for both, as a deployed package would be
  load(hello);
  for (let i = 0; i < runs; i++) {
    // Interleaved, so machine noise hits both sides alike.
    const app = load(repo);
    functions = app.functions;
    appTimes.push(app.ms);
    helloTimes.push(load(hello).ms);
  }
  const appMs = median(appTimes);
  const helloMs = median(helloTimes);
  return [
    {
      figure: `cold start: load app (${functions} functions registered)`,
      value: appMs,
      unit: 'ms',
      anchor: 'hello app (1 function, @azure/functions only)',
      anchorValue: helloMs,
      ratio: appMs / helloMs,
      goal: '≤ 1.3×',
      met: appMs / helloMs <= 1.3,
    },
  ];
}
