import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { actionableMessages } from './actionable-messages';
import { botAuth } from './bot-auth';
import { coldStart } from './cold-start';
import { graphPipeline } from './graph';
import { loadTest } from './load-test';
import { outgoingWebhookBench } from './outgoing-webhook';
import { packageSize } from './package-size';
import { type BenchRow, renderTable } from './table';

/**
 * `npm run bench`: every figure measured side by side with its anchor in this one run, printed as one
 * table and written to bench-results/latest.json for comparison with the previous run.
 */
type Section = { name: string; run: () => BenchRow[] | Promise<BenchRow[]> };

const sections: Section[] = [{ name: 'cold start', run: () => coldStart() }, { name: 'deployment package', run: packageSize }, { name: 'actionable messages', run: actionableMessages }, { name: 'messaging extension', run: botAuth }, { name: 'outgoing webhook', run: outgoingWebhookBench }, { name: 'Graph pipeline', run: graphPipeline }, { name: 'load test', run: loadTest }];

interface BenchResult {
  at: string;
  node: string;
  rows: BenchRow[];
}

/** The last run's figures (bench-results/latest.json, kept as previous.json), by figure name. */
function previousRun(dir: string): { at: string; values: Map<string, number> } | undefined {
  const file = join(dir, 'latest.json');
  if (!existsSync(file)) return undefined;
  const result = JSON.parse(readFileSync(file, 'utf8')) as BenchResult;
  return { at: result.at, values: new Map(result.rows.map((row) => [row.figure, row.value])) };
}

async function main(): Promise<void> {
  const dir = resolve(__dirname, '..', '..', '..', 'bench-results');
  const started = Date.now();
  const rows: BenchRow[] = [];
  for (const section of sections) {
    const sectionStarted = Date.now();
    process.stderr.write(`bench: ${section.name}…\n`);
    rows.push(...(await section.run()));
    process.stderr.write(`bench: ${section.name} took ${Math.round((Date.now() - sectionStarted) / 1000)} s\n`);
  }
  const previous = previousRun(dir);
  console.log(renderTable(rows, previous?.values));
  const result: BenchResult = { at: new Date().toISOString(), node: process.version, rows };
  console.log(
    `\n${rows.length} figures in ${Math.round((Date.now() - started) / 1000)} s on ${result.node}` +
      (previous ? `; "vs previous" compares with the run of ${previous.at} (bench-results/previous.json)` : '; no previous run to compare with'),
  );
  mkdirSync(dir, { recursive: true });
  if (previous) renameSync(join(dir, 'latest.json'), join(dir, 'previous.json'));
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
