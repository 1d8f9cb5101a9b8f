import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import fc from 'fast-check';

import type { TableClient } from '@azure/data-tables' with { 'resolution-mode': 'import' };

import { featureConfig } from '../../../src/lib/config/settings';
import { graphClient } from '../../../src/lib/clients/graph-client';
import { tableClient } from '../../../src/lib/clients/storage';
import { runDeltaSync, type SyncOutcome } from '../../../src/lib/graph-sync/delta';
import { processNotificationMessage } from '../../../src/lib/graph-sync/processing';
import { requestResync } from '../../../src/lib/graph-sync/state';
import { useAzurite } from '../../support/azurite';
import { testContext } from '../../../tools/stand-ins/functions';
import { clearDirectory, mirrorProblems } from '../directory/mirror';
import { graphUser, type UserProps } from '../../../tools/stand-ins/fake-graph';
import { useFakeGraph, userId } from './setup';

/**
 * Model-based: the fake Graph tenant is the model, the directory in Azurite the system. fast-check draws
 * a history: the tenant renames (hostile names), disables, deletes and creates users, while deliveries
 * arrive duplicated, two at once, or with their Graph answer held back so that an older read lands last,
 * between catch-ups and full syncs. In fault runs, storage crashes (every operation from the nth on fails)
 * or refuses one operation (a transaction included), before or after the operation reaches it.
 * Invariants: without faults, after a last delivery of every user the directory equals the tenant with no
 * reconciliation; with faults, it does after one full reconciliation (plus, when that round resumed a
 * crashed run's checkpoint and so began before the last changes, the catch-up from its delta link).
 */
useAzurite();
const graph = useFakeGraph();

const USERS = 5;
/** Cut positions: 64-unit words and the 100-unit sort name, with astral letters that fold to themselves. */
const CUTS = [62, 63, 64, 65, 98, 99, 100, 101];
const hostileName = fc.oneof(
  fc.tuple(fc.constantFrom(...CUTS), fc.constantFrom('𠀀', '𐐀', '𞤀')).map(([k, astral]) => `${'a'.repeat(k)}${astral}bc Astral`),
  fc.constantFrom(
    'Zoë Ångström',
    `${'e\u0301'.repeat(30)} Combining`,
    'مريم حداد',
    'שרה כהן',
    `${'x'.repeat(500)} Long`,
    '𝓜𝓪𝓽𝓱 𝒮𝒸𝓇𝒾𝓅𝓉',
    'O’Brien Dvořák',
    '\u202Eevil\u202C Override',
  ),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
);
const who = fc.integer({ min: 1, max: USERS });
const some = fc.uniqueArray(who, { minLength: 1, maxLength: USERS });

type Step =
  | { t: 'rename'; u: number; name: string }
  | { t: 'enable'; u: number; enabled: boolean }
  | { t: 'delete'; u: number }
  | { t: 'deliver'; us: number[]; duplicate: boolean }
  | { t: 'deliverLate'; us: number[] }
  | { t: 'release'; i: number }
  | { t: 'concurrent'; a: number[]; b: number[] }
  | { t: 'catchUp' }
  | { t: 'fullSync' }
  | { t: 'fault'; at: number; kind: FaultKind };

type FaultKind = 'crashBefore' | 'crashAfter' | 'refuseBefore' | 'refuseAfter';

const tenantStep = fc.oneof(
  fc.record({ t: fc.constant('rename' as const), u: who, name: hostileName }),
  fc.record({ t: fc.constant('enable' as const), u: who, enabled: fc.boolean() }),
  fc.record({ t: fc.constant('delete' as const), u: who }),
);
const pipelineStep = fc.oneof(
  fc.record({ t: fc.constant('deliver' as const), us: some, duplicate: fc.boolean() }),
  fc.record({ t: fc.constant('deliverLate' as const), us: some }),
  fc.record({ t: fc.constant('release' as const), i: fc.nat() }),
  fc.record({ t: fc.constant('concurrent' as const), a: some, b: some }),
  fc.record({ t: fc.constant('catchUp' as const) }),
  fc.record({ t: fc.constant('fullSync' as const) }),
);
const faultStep = fc.record({
  t: fc.constant('fault' as const),
  at: fc.integer({ min: 1, max: 25 }),
  kind: fc.constantFrom<FaultKind>('crashBefore', 'crashAfter', 'refuseBefore', 'refuseAfter'),
});
const history = (faults: boolean): fc.Arbitrary<Step[]> =>
  fc.array(faults ? fc.oneof({ arbitrary: tenantStep, weight: 3 }, { arbitrary: pipelineStep, weight: 4 }, { arbitrary: faultStep, weight: 2 }) : fc.oneof(tenantStep, pipelineStep), {
    minLength: 4,
    maxLength: 18,
  });

/**
 * Storage faults around the directory's table client (the one instance the directory uses): the nth
 * operation from arming fails before it reaches storage or after (done, but the answer lost); a crash
 * fails every later operation too, a refusal only that one. In-flight operations are counted, so that a
 * step ends only when the work it left running has stopped.
 */
class FaultyStorage {
  private count = 0;
  private armed: { at: number; kind: FaultKind } | undefined;
  private crashed = false;
  private inFlight = 0;
  injected = 0;

  constructor(table: TableClient) {
    const methods = ['createEntity', 'updateEntity', 'upsertEntity', 'deleteEntity', 'getEntity', 'submitTransaction'] as const;
    const target = table as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    for (const name of methods) {
      const original = (target[name] as (...args: unknown[]) => Promise<unknown>).bind(table);
      target[name] = async (...args: unknown[]): Promise<unknown> => {
        const n = ++this.count;
        const hit = this.armed !== undefined && n === this.armed.at;
        if (this.crashed || (hit && this.armed?.kind.endsWith('Before'))) throw this.fault(hit);
        this.inFlight++;
        try {
          const result = await original(...args);
          if (hit) throw this.fault(hit);
          return result;
        } finally {
          this.inFlight--;
        }
      };
    }
  }

  private fault(hit: boolean): Error {
    if (hit) {
      this.injected++;
      if (this.armed?.kind.startsWith('crash')) this.crashed = true;
      this.armed = undefined;
    }
    return Object.assign(new Error('storage fault injected by the test'), { statusCode: 503 });
  }

  arm(at: number, kind: FaultKind): void {
    this.count = 0;
    this.armed = { at, kind };
  }

  /**
   * Waits for the operations still running (workers a failed step left behind); a crash ends with the
   * step (the next one is a restarted process). `disarm` also drops a fault that was not reached.
   */
  async settle(disarm = false): Promise<void> {
    for (let quiet = 0; quiet < 3; quiet = this.inFlight === 0 ? quiet + 1 : 0) await new Promise<void>((done) => setImmediate(done));
    this.crashed = false;
    if (disarm) this.armed = undefined;
  }
}

describe('the directory mirror, model-based', () => {
  const figures = { runs: 0, steps: 0, deliveries: 0, lateAnswers: 0, syncs: 0, faultsArmed: 0, faultsInjected: 0, failedSteps: 0 };

  async function run(steps: Step[], faulty: FaultyStorage, faults: boolean): Promise<void> {
    graph.current.reset();
    graph.current.deltaPageSize = 2;
    await clearDirectory();
    figures.runs++;
    const config = featureConfig('graphApi');
    const client = await graphClient(config);
    const ids = Array.from({ length: USERS }, (_, i) => userId(70_000 + i + 1));
    const id = (u: number): string => ids[u - 1] as string;
    for (const [i, userIdValue] of ids.entries()) graph.current.setUser(graphUser(userIdValue, `Person Number${i}`));
    await runDeltaSync(client, config.baseUrl);
    const late: { release: () => void; done: Promise<unknown> }[] = [];
    const deliver = (us: number[]): Promise<void> => {
      figures.deliveries++;
      const { context } = testContext('processNotifications');
      return processNotificationMessage({ type: 'userChanges', userIds: us.map(id) }, context);
    };
    const sync = async (full: boolean): Promise<SyncOutcome> => {
      figures.syncs++;
      if (full) await requestResync();
      const outcome = await runDeltaSync(client, config.baseUrl);
      assert.notEqual(outcome.kind, 'busy');
      return outcome;
    };

    for (const step of steps) {
      figures.steps++;
      try {
        switch (step.t) {
          case 'rename': {
            const [given, ...rest] = step.name.split(' ');
            graph.current.setUser({ ...graphUser(id(step.u), step.name), givenName: given ?? null, surname: rest.join(' ') || null, accountEnabled: graph.current.users.get(id(step.u))?.props.accountEnabled ?? true });
            break;
          }
          case 'enable':
            if (graph.current.users.has(id(step.u))) graph.current.setUser({ id: id(step.u), accountEnabled: step.enabled });
            break;
          case 'delete':
            graph.current.deleteUser(id(step.u));
            break;
          case 'deliver':
            await deliver(step.duplicate ? [...step.us, ...step.us] : step.us);
            break;
          case 'deliverLate': {
            const { release, arrived } = graph.current.holdNextBatch();
            figures.lateAnswers++;
            const done = deliver(step.us).catch((err: unknown) => err);
            await arrived;
            late.push({ release, done });
            break;
          }
          case 'release': {
            const held = late.splice(step.i % Math.max(late.length, 1), 1)[0];
            if (held) {
              held.release();
              const outcome = await held.done;
              if (outcome instanceof Error) throw outcome;
            }
            break;
          }
          case 'concurrent':
            await Promise.all([deliver(step.a), deliver(step.b)]);
            break;
          case 'catchUp':
          case 'fullSync':
            await sync(step.t === 'fullSync');
            break;
          case 'fault':
            figures.faultsArmed++;
            faulty.arm(step.at, step.kind);
            break;
        }
      } catch (err) {
        if (!faults) throw err;
        figures.failedSteps++;
      }
      if (step.t !== 'fault') await faulty.settle();
    }
    await faulty.settle(true);
    const tenant = (): UserProps[] => [...graph.current.users.values()].map((u) => u.props);
    if (!faults) {
      // The notification Graph sends after the last change, then the answers held back land, older and last.
      await deliver(Array.from({ length: USERS }, (_, i) => i + 1));
      for (const held of late.splice(0)) {
        held.release();
        await held.done;
      }
      assert.deepEqual(await mirrorProblems(tenant()), [], 'equal to the tenant after the last delivery, no reconciliation');
      return;
    }
    for (const held of late.splice(0)) {
      held.release();
      await held.done;
    }
    await faulty.settle(true);
    // A round resumed from a crashed run's checkpoint began before the last changes: those come, as with
    // any round that changes outlive, in the catch-up from its delta link.
    const reconciliation = await sync(true);
    if (reconciliation.kind === 'full' && reconciliation.resumed) await sync(false);
    assert.deepEqual(await mirrorProblems(tenant()), [], 'equal to the tenant after one full reconciliation');
  }

  test('without faults the directory equals the tenant after the last delivery; with faults after one reconciliation', async (t) => {
    const faulty = new FaultyStorage(await tableClient('directory'));
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(history(false), (steps) => run(steps, faulty, false)),
      { numRuns: 30 },
    );
    await fc.assert(
      fc.asyncProperty(history(true), (steps) => run(steps, faulty, true)),
      { numRuns: 100 },
    );
    figures.faultsInjected = faulty.injected;
    t.diagnostic(`${JSON.stringify(figures)} in ${Date.now() - started} ms`);
  });
});
