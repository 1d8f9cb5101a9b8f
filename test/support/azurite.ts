import { after, before } from 'node:test';

import { type RunningAzurite, startAzurite } from '../../tools/azurite';

/**
 * One in-memory Azurite on free ports for the calling test file, started before its tests and stopped
 * after them; `AzureWebJobsStorage` points at it while the file runs.
 */
export function useAzurite(): { readonly current: RunningAzurite } {
  const holder: { current?: RunningAzurite } = {};
  before(async () => {
    holder.current = await startAzurite();
    process.env.AzureWebJobsStorage = holder.current.connectionString;
  });
  after(async () => {
    await holder.current?.stop();
  });
  return {
    get current(): RunningAzurite {
      if (!holder.current) throw new Error('Azurite is not running yet (use it inside a test)');
      return holder.current;
    },
  };
}
