import { after, before } from 'node:test';

import { setGraphCredentialForTests } from '../../../src/lib/clients/graph-client';
import { type FakeGraph, startFakeGraph } from '../../../tools/stand-ins/fake-graph';

export const CLIENT_STATE = 'c1ient-state-9f3b2a7e-5d1c-4e8a-b6f0-2a9d8c7e6b5a';

/** The Graph settings of these tests, pointing at a fake Graph tenant started for the file. */
export function useFakeGraph(publicBaseUrl = 'https://contoso-m365.azurewebsites.net'): { readonly current: FakeGraph } {
  const holder: { current?: FakeGraph } = {};
  before(async () => {
    holder.current = await startFakeGraph();
    Object.assign(process.env, {
      GRAPH_BASE_URL: holder.current.url,
      GRAPH_CLIENT_STATE: CLIENT_STATE,
      PUBLIC_BASE_URL: publicBaseUrl,
    });
    setGraphCredentialForTests({ getToken: () => Promise.resolve({ token: 't', expiresOnTimestamp: Date.now() + 3.6e6 }) });
  });
  after(async () => {
    setGraphCredentialForTests(undefined);
    await holder.current?.close();
  });
  return {
    get current(): FakeGraph {
      if (!holder.current) throw new Error('the fake Graph is not running yet');
      return holder.current;
    },
  };
}

/** Ids that look like Graph's (GUIDs), numbered so that tests can tell them apart. */
export function userId(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}
