import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { authorization, teamsMessage } from './outgoing-webhook';
import { type BenchRow, median } from './table';

/**
 * Cold start, each figure against the same figure of a one-function hello app in the same run:
 * - load: a fresh process until every function is registered (wall time, medians of interleaved runs);
 * - the same load in instructions executed beyond a bare `node` start (callgrind counts the same on a busy
 *   machine; `--single-threaded` keeps V8's background compiler and GC threads from varying the count);
 * - first answer: a fresh process that loads the app through the local host and answers one request.
 */

const repo = resolve(__dirname, '..', '..', '..');
const loadProbe = join(__dirname, 'cold-start-probe.js');
const answerProbe = join(__dirname, 'first-answer-probe.js');
const LOAD_GOAL = 1.15;
const ANSWER_GOAL = 1.3;
const HELLO = 'hello app (1 function, @azure/functions only)';

/** The anchor: one HTTP function on the project's @azure/functions, streaming on as the app's is. */
function helloApp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hello-app-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'hello', main: 'index.js' }));
  copyFileSync(join(repo, 'host.json'), join(dir, 'host.json'));
  writeFileSync(
    join(dir, 'index.js'),
    `const { app } = require(${JSON.stringify(require.resolve('@azure/functions'))});\n` +
      `app.setup({ enableHttpStream: true });\n` +
      `app.http('hello', { handler: async () => ({ body: 'hello' }) });\n`,
  );
  return dir;
}

function load(appDir: string): { ms: number; functions: number } {
  return JSON.parse(execFileSync(process.execPath, [loadProbe, appDir], { encoding: 'utf8' })) as {
    ms: number;
    functions: number;
  };
}

function loadWall(hello: string, runs: number): BenchRow {
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
  return {
    figure: `cold start: load app (${functions} functions registered), median of ${runs}`,
    value: appMs,
    unit: 'ms',
    anchor: HELLO,
    anchorValue: helloMs,
    ratio: appMs / helloMs,
    goal: `≤ ${LOAD_GOAL}×`,
    met: appMs / helloMs <= LOAD_GOAL,
  };
}

/** Instructions callgrind counts for `node --single-threaded ...args`. */
function instructions(args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const run = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, '--single-threaded', ...args], {
    encoding: 'utf8',
    env,
  });
  const collected = /Collected : (\d+)/.exec(run.stderr)?.[1];
  if (run.status !== 0 || !collected) throw new Error(`callgrind failed: ${run.stderr.slice(-500)}`);
  return Number(collected);
}

const hasValgrind = (): boolean => spawnSync('valgrind', ['--version']).status === 0;
const skipped = (figure: string): BenchRow => ({ figure: `${figure}: skipped, valgrind is not installed`, value: Number.NaN, unit: '' });

function loadInstructions(hello: string, runs: number): BenchRow {
  const figure = 'cold start: load app, instructions beyond a bare node start (callgrind)';
  if (!hasValgrind()) return skipped(figure);
  const bare: number[] = [];
  const app: number[] = [];
  const helloCounts: number[] = [];
  for (let i = 0; i < runs; i++) {
    bare.push(instructions(['-e', '0']));
    app.push(instructions([loadProbe, repo]));
    helloCounts.push(instructions([loadProbe, hello]));
  }
  const appM = (median(app) - median(bare)) / 1e6;
  const helloM = (median(helloCounts) - median(bare)) / 1e6;
  return {
    figure: `${figure}, median of ${runs}`,
    value: appM,
    unit: 'M instr',
    anchor: HELLO,
    anchorValue: helloM,
    ratio: appM / helloM,
    goal: `≤ ${LOAD_GOAL}×`,
    met: appM / helloM <= LOAD_GOAL,
  };
}

interface Probe {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** What the answer must be, so a fast failure is never counted as a fast answer. */
  expect: (status: number, body: string) => boolean;
}

function probeArgs(appDir: string, probe: Probe): string[] {
  return [answerProbe, appDir, probe.method, probe.path, JSON.stringify(probe.headers ?? {}), (probe.body ?? Buffer.alloc(0)).toString('base64')];
}

function firstAnswer(appDir: string, probe: Probe, env: NodeJS.ProcessEnv): number {
  const answer = JSON.parse(execFileSync(process.execPath, probeArgs(appDir, probe), { encoding: 'utf8', env })) as { ms: number; status: number; body: string };
  if (!probe.expect(answer.status, answer.body)) throw new Error(`${probe.method} ${probe.path}: unexpected answer ${answer.status} ${answer.body.slice(0, 200)}`);
  return answer.ms;
}

function firstAnswers(hello: string, runs: number): BenchRow[] {
  const secret = randomBytes(32).toString('base64');
  // Only what the three endpoints read; nothing that points at storage, so no client is ever built.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    GRAPH_CLIENT_STATE: randomBytes(24).toString('base64url'),
    OUTGOING_WEBHOOK_SECRETS: secret,
  };
  const help = teamsMessage('<at>Expenses</at> help');
  const probes: Record<string, Probe> = {
    'graphWebhook validation': {
      method: 'POST',
      path: '/api/graph-webhook?validationToken=Validation%3A%20Testing%20client%20application%20reachability',
      expect: (status, body) => status === 200 && body === 'Validation: Testing client application reachability',
    },
    "outgoingWebhook 'help'": {
      method: 'POST',
      path: '/api/outgoing-webhook',
      headers: { 'content-type': 'application/json; charset=utf-8', authorization: authorization(help, secret) },
      body: help,
      expect: (status, body) => status === 200 && (JSON.parse(body) as { type?: string }).type === 'message',
    },
    health: { method: 'GET', path: '/api/health', expect: (status, body) => status === 200 && body.includes('"status":"ok"') },
  };
  const helloProbe: Probe = { method: 'GET', path: '/api/hello', expect: (status, body) => status === 200 && body === 'hello' };
  const rows: BenchRow[] = [];
  for (const [name, probe] of Object.entries(probes)) {
    const appTimes: number[] = [];
    const helloTimes: number[] = [];
    firstAnswer(repo, probe, env); // warm the file system cache, as for the load figure
    firstAnswer(hello, helloProbe, env);
    for (let i = 0; i < runs; i++) {
      appTimes.push(firstAnswer(repo, probe, env));
      helloTimes.push(firstAnswer(hello, helloProbe, env));
    }
    const appMs = median(appTimes);
    const helloMs = median(helloTimes);
    rows.push({
      figure: `cold start: first answer, ${name}, fresh process through the local host, median of ${runs}`,
      value: appMs,
      unit: 'ms',
      anchor: "hello app's first answer",
      anchorValue: helloMs,
      ratio: appMs / helloMs,
      goal: `≤ ${ANSWER_GOAL}×`,
      met: appMs / helloMs <= ANSWER_GOAL,
    });
    rows.push(answerInstructions(name, hello, probe, helloProbe, env));
  }
  return rows;
}

/** The same first answer in instructions beyond a bare `node` start, one callgrind run each (they repeat within 1%). */
function answerInstructions(name: string, hello: string, probe: Probe, helloProbe: Probe, env: NodeJS.ProcessEnv): BenchRow {
  const figure = `  the same in instructions beyond a bare node start (callgrind)`;
  if (!hasValgrind()) return skipped(figure);
  const bare = instructions(['-e', '0'], env);
  const appM = (instructions(probeArgs(repo, probe), env) - bare) / 1e6;
  const helloM = (instructions(probeArgs(hello, helloProbe), env) - bare) / 1e6;
  return {
    figure: `${figure}, ${name}`,
    value: appM,
    unit: 'M instr',
    anchor: "hello app's first answer",
    anchorValue: helloM,
    ratio: appM / helloM,
    goal: `≤ ${ANSWER_GOAL}×`,
    met: appM / helloM <= ANSWER_GOAL,
  };
}

export function coldStart(runs = 15): BenchRow[] {
  const hello = helloApp();
  return [loadWall(hello, runs), loadInstructions(hello, 3), ...firstAnswers(hello, 9)];
}
