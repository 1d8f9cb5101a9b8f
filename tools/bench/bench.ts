import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { actionableMessages } from './actionable-messages';
import { botAuth } from './bot-auth';
import { coldStart } from './cold-start';
import { graphPipeline } from './graph';
import { outgoingWebhookBench } from './outgoing-webhook';
import { packageSize } from './package-size';
import { type BenchRow, renderTable } from './table';

/**
 * `npm run bench`: every figure measured side by side with its anchor in this one run, printed as one
 * table and written to bench-results/latest.json for comparison with the previous run.
 */
type Section = { name: string; run: () => BenchRow[] | Promise<BenchRow[]> };

const sections: Section[] = [{ name: 'cold start', run: () => coldStart() }, { name: 'deployment package', run: packageSize }, { name: 'actionable messages', run: actionableMessages }, { name: 'messaging extension', run: botAuth }, { name: 'outgoing webhook', run: outgoingWebhookBench }, { name: 'Graph pipeline', run: graphPipeline }];

async function main(): Promise<void> {
  const rows: BenchRow[] = [];
  for (const section of sections) {
    process.stderr.write(`bench: ${section.name}…\n`);
    rows.push(...(await section.run()));
  }
  console.log(renderTable(rows));
  const dir = resolve(__dirname, '..', '..', '..', 'bench-results');
  mkdirSync(dir, { recursive: true });
  const result = { at: new Date().toISOString(), node: process.version, rows };
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
