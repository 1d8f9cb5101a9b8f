import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { after, describe, test } from 'node:test';

import { notificationQueueName, subscriptionSchedule } from '../../src/lib/config/settings';
import { registrationsInSources, repoRoot } from '../infra/sources';
import { startTestHost, type TestHost } from '../support/local-host';
import { withEnv } from '../../tools/stand-ins/functions';

/**
 * The build's `main` (one esbuild bundle of the registrations, tools/bundle-app.ts) against what the
 * unbundled registration files register, in fresh processes that load it as the Functions worker does.
 */

interface Registered {
  name: string;
  bindings: Record<string, Record<string, unknown>>;
}
interface Load {
  functions: number;
  registered: Registered[];
  modules: string[];
}

const probe = join(repoRoot, 'dist', 'tools', 'bench', 'cold-start-probe.js');
const env = { PATH: process.env.PATH }; // no queue or schedule setting: the defaults register
const { main, dependencies } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  main: string;
  dependencies: Record<string, string>;
};

function load(appDir: string): Load {
  const loaded = JSON.parse(execFileSync(process.execPath, [probe, appDir, '--details'], { encoding: 'utf8', env })) as Load;
  return { ...loaded, registered: loaded.registered.sort((a, b) => a.name.localeCompare(b.name)) };
}

const inRepo = (modules: string[]): string[] => modules.map((m) => relative(repoRoot, m).split(sep).join('/'));
const handlersLoaded = (): string[] => inRepo(Object.keys(require.cache)).filter((m) => m.startsWith('dist/src/handlers/'));

describe('the built main', () => {
  const unbundled = mkdtempSync(join(tmpdir(), 'unbundled-app-'));
  after(() => rmSync(unbundled, { recursive: true, force: true }));
  const files = ['index', ...registrationsInSources().map((r) => `functions/${r.name}`)];
  writeFileSync(join(unbundled, 'package.json'), JSON.stringify({ name: 'unbundled', main: 'app.js' }));
  writeFileSync(join(unbundled, 'app.js'), files.map((f) => `require(${JSON.stringify(join(repoRoot, 'dist', 'src', `${f}.js`))});`).join('\n'));
  const app = load(repoRoot);

  test('is one bundle that registers the 13 functions of src/functions exactly as the unbundled files do', () => {
    assert.equal(main, 'dist/src/main.js');
    assert.equal(app.functions, 13);
    assert.deepEqual(app.registered, load(unbundled).registered);
    const sources = registrationsInSources();
    assert.deepEqual(app.registered.map((f) => f.name), sources.map((r) => r.name));
    for (const source of sources) {
      const bindings = Object.values(app.registered.find((f) => f.name === source.name)?.bindings ?? {});
      // The trigger binding without the name and properties @azure/functions generates for it.
      const trigger = { ...bindings.find((b) => b.direction === 'in') };
      delete trigger.name;
      delete trigger.properties;
      if (source.trigger === 'http') {
        assert.deepEqual(trigger, { type: 'httpTrigger', direction: 'in', authLevel: source.authLevel, methods: source.methods, route: source.route }, source.name);
        assert.ok(bindings.some((b) => b.type === 'http' && b.direction === 'out'), `${source.name} answers over HTTP`);
      } else if (source.trigger === 'storageQueue') {
        assert.deepEqual(trigger, { type: 'queueTrigger', direction: 'in', queueName: notificationQueueName({}), connection: 'AzureWebJobsStorage' });
      } else {
        assert.deepEqual(trigger, { type: 'timerTrigger', direction: 'in', schedule: subscriptionSchedule({}) });
      }
    }
  });

  test('loads one module of the app, no handler and no dependency but @azure/functions', () => {
    assert.deepEqual(inRepo(app.modules).filter((m) => m.startsWith('dist/src/')), ['dist/src/main.js']);
    const sdks = Object.keys(dependencies).filter((name) => name !== '@azure/functions');
    assert.ok(sdks.includes('@azure/data-tables') && sdks.includes('@microsoft/microsoft-graph-client') && sdks.includes('jose') && sdks.includes('@azure/identity'));
    const loadedSdks = sdks.filter((name) => app.modules.some((m) => m.includes(`${sep}node_modules${sep}${name.split('/').join(sep)}${sep}`)));
    assert.deepEqual(loadedSdks, []);
  });
});

describe('the built main through the local host', () => {
  let served: TestHost | undefined;
  after(() => served?.host.stop());

  test('loads each handler on its function\'s first invocation, which answers as the handler does', async () => {
    served = await startTestHost('bundled-app', [main]);
    assert.deepEqual(handlersLoaded(), []);
    const health = await fetch(`${served.host.url}/api/health`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { status: string }).status, 'ok');
    assert.deepEqual(handlersLoaded(), ['dist/src/handlers/health.js']);
    const token = 'Validation: Testing client application reachability';
    const validation = await withEnv({ GRAPH_CLIENT_STATE: 'a-client-state-of-this-test' }, () =>
      fetch(`${served?.host.url}/api/graph-webhook?validationToken=${encodeURIComponent(token)}`, { method: 'POST' }),
    );
    assert.equal(validation.status, 200);
    assert.equal(await validation.text(), token);
    assert.deepEqual(handlersLoaded(), ['dist/src/handlers/health.js', 'dist/src/handlers/graphWebhook.js']);
  });
});
