import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { DEFAULTS, FEATURE_NAMES, featureSettings } from '../../src/lib/config/settings';
import { bicepObjectKeys, bicepParamDefault, bicepVarStrings, filesUnder, read, repoRoot, settingsTable } from './sources';

const main = read('infra/main.bicep');
const api = read('infra/app/api.bicep');
const infraFiles = [...filesUnder('infra'), 'azure.yaml'];

/** App settings infra/ sets: plain ones, the platform's (storage identity, telemetry), the site's and Key Vault references. */
const provisioned = new Set([
  ...bicepObjectKeys(main, 'appSettings'),
  ...bicepObjectKeys(api, 'platformSettings'),
  ...bicepObjectKeys(api, 'siteSettings'),
  ...bicepObjectKeys(main, 'keyVaultSecretNames'),
]);

/** Settings the code reads that infra/ leaves unset on purpose. */
const MANUAL: Record<string, string> = {
  AzureWebJobsStorage:
    'a connection string is for local runs only (Azurite); in Azure the identity-based AzureWebJobsStorage__* settings replace it',
  AZURE_CLIENT_SECRET: 'Graph uses the managed identity in Azure (AZURE_CLIENT_ID names it), so there is no client secret',
  AZURE_CLIENT_CERTIFICATE_PATH: 'Graph uses the managed identity in Azure, so there is no certificate',
};

/** Every setting name the code reads: feature settings, queue/schedule resolution, and storage connection. */
function settingsReadByCode(): Set<string> {
  const names = new Set<string>(FEATURE_NAMES.flatMap(featureSettings));
  for (const file of filesUnder('src', '.ts')) {
    const text = read(file);
    for (const m of text.matchAll(/\bprocess\.env\.([A-Za-z_]\w*)/g)) names.add(m[1] as string);
    for (const m of text.matchAll(/\benv\.([A-Z]\w*)/g)) names.add(m[1] as string);
    for (const m of text.matchAll(/\benv\[\s*['"]([^'"]+)['"]\s*\]/g)) names.add(m[1] as string);
    // Storage reads `${CONNECTION}__accountName` etc., CONNECTION being the host's connection name.
    const connection = /const CONNECTION = '(\w+)'/.exec(text)?.[1];
    if (connection) {
      if (/env\[CONNECTION\]/.test(text)) names.add(connection);
      for (const m of text.matchAll(/\$\{CONNECTION\}__(\w+)/g)) names.add(`${connection}__${m[1]}`);
    }
  }
  return names;
}

describe('infra/ holds no secret', () => {
  test('no account key, connection string, key listing or secret-looking value in any infra file', () => {
    const forbidden: [string, RegExp][] = [
      ['account key', /AccountKey\s*=/i],
      ['shared access key or signature', /SharedAccessKey|SharedAccessSignature|[?&]sig=/i],
      ['storage connection string', /DefaultEndpointsProtocol|UseDevelopmentStorage/i],
      ['instrumentation key', /InstrumentationKey\s*=/i],
      ['key listing', /\blist(Keys|ConnectionStrings|Secrets|AccountSas|ServiceSas)\s*\(/i],
      ['private key', /-----BEGIN/],
      ['JWT', /eyJ[\w-]{10,}\.[\w-]{10,}/],
      // A run of 32+ base64 characters mixing digits and both cases (long identifiers have no digits).
      ['base64 key', /(?=[A-Za-z0-9+/]*\d)(?=[A-Za-z0-9+/]*[A-Z])(?=[A-Za-z0-9+/]*[a-z])[A-Za-z0-9+/]{32,}={0,2}/],
    ];
    for (const file of infraFiles) {
      const text = read(file);
      for (const [what, pattern] of forbidden) {
        const found = pattern.exec(text)?.[0];
        assert.equal(found, undefined, `${file} contains a ${what}: ${found?.slice(0, 12)}…`);
      }
    }
  });

  test('secret parameters are @secure() and default to nothing', () => {
    for (const file of filesUnder('infra', '.bicep')) {
      const lines = read(file).split('\n');
      lines.forEach((line, i) => {
        const param = /^param (\w+) (\w+)(?: = (.*))?$/.exec(line);
        if (!param) return;
        const [, name = '', , value] = param;
        const decorators = lines.slice(Math.max(0, i - 3), i).join('\n');
        if (/(secret|secrets|password|key|clientstate)$/i.test(name)) {
          assert.match(decorators, /@secure\(\)/, `${file}: param ${name} must be @secure()`);
        }
        if (/@secure\(\)/.test(decorators)) {
          assert.ok(value === undefined || value === "''", `${file}: secure param ${name} has a default value`);
        }
      });
    }
  });

  test('storage refuses shared keys, telemetry needs Entra, Key Vault uses RBAC', () => {
    assert.match(main, /allowSharedKeyAccess: false/);
    assert.match(main, /disableLocalAuth: true/);
    assert.match(read('infra/app/keyvault.bicep'), /enableRbacAuthorization: true/);
    assert.match(api, /keyVaultAccessIdentityResourceId: identityId/);
    // Secrets are referenced from Key Vault, never passed to the app as values.
    assert.match(api, /@Microsoft\.KeyVault\(SecretUri=\$\{keyVaultUri\}secrets\/\$\{secret\.value\}\)/);
    for (const name of bicepObjectKeys(main, 'keyVaultSecretNames')) {
      assert.ok(!bicepObjectKeys(main, 'appSettings').includes(name), `${name} must come from Key Vault only`);
    }
  });

  test('the identity gets exactly the least-privilege data roles', () => {
    const rbac = read('infra/app/rbac.bicep');
    const roles = [...rbac.matchAll(/'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'/g)].map((m) => m[1]);
    assert.deepEqual(roles.sort(), [
      '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3', // Storage Table Data Contributor
      '3913510d-42f4-4e42-8a64-420c390055eb', // Monitoring Metrics Publisher
      '4633458b-17de-408a-b874-0445c86b69e6', // Key Vault Secrets User
      '974c5e8b-45b9-4653-ba55-5f855dd0fb88', // Storage Queue Data Contributor
      'b7e6dc6d-f1e8-4753-8033-0f276bb0955b', // Storage Blob Data Owner
    ]);
  });
});

describe('every setting the code reads is provisioned or manual', () => {
  const read_ = settingsReadByCode();

  test('each setting read by src/ is set by infra/ or listed as manual with its reason', () => {
    const missing = [...read_].filter((name) => !provisioned.has(name) && !(name in MANUAL));
    assert.deepEqual(missing, [], `set these in infra/main.bicep appSettings or add them to MANUAL with a reason`);
  });

  test('manual settings are really read, really unset, and say why', () => {
    for (const [name, reason] of Object.entries(MANUAL)) {
      assert.ok(read_.has(name), `${name} is no longer read by src/: drop it from MANUAL`);
      assert.ok(!provisioned.has(name), `${name} is provisioned, so it is not manual`);
      assert.ok(reason.length > 20, `${name} needs a reason`);
    }
  });

  test('no deprecated Flex Consumption setting is set', () => {
    const deprecated = [
      'FUNCTIONS_WORKER_RUNTIME',
      'FUNCTIONS_EXTENSION_VERSION',
      'WEBSITE_RUN_FROM_PACKAGE',
      'WEBSITE_CONTENTSHARE',
      'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
      'WEBSITE_NODE_DEFAULT_VERSION',
      'SCM_DO_BUILD_DURING_DEPLOYMENT',
      'ENABLE_ORYX_BUILD',
      'WEBSITE_TIME_ZONE',
      'TZ',
      'AzureWebJobsStorage',
    ];
    for (const name of deprecated) assert.ok(!provisioned.has(name), `${name} must not be set on Flex Consumption`);
    assert.match(api, /runtime: \{\s*name: 'node'\s*version: '22'\s*\}/);
  });

  test('the identity-based storage settings mirror what the app and the host read', () => {
    for (const suffix of ['accountName', 'queueServiceUri', 'tableServiceUri', 'blobServiceUri', 'credential', 'clientId']) {
      assert.ok(provisioned.has(`AzureWebJobsStorage__${suffix}`), `AzureWebJobsStorage__${suffix}`);
    }
    assert.ok(provisioned.has('APPLICATIONINSIGHTS_AUTHENTICATION_STRING'));
  });
});

describe('the documented settings, local.settings.json.example, infra and the code agree', () => {
  // The repository stands alone: its own settings table (docs/configuration.md) is the list every other place must match.
  const documented = settingsTable(read('docs/configuration.md'), 'Settings');

  test('every documented setting is read somewhere in src/', () => {
    const sources = filesUnder('src', '.ts').map((file) => read(file)).join('\n');
    assert.deepEqual(documented.filter((name) => !new RegExp(`\\b${name}\\b`).test(sources)), []);
  });

  test('local.settings.json.example lists every documented setting', () => {
    const example = JSON.parse(read('local.settings.json.example')) as { Values: Record<string, string> };
    const missing = documented.filter((name) => !(name in example.Values));
    assert.deepEqual(missing, []);
  });

  test('every documented setting is provisioned by infra/ or manual', () => {
    const missing = documented.filter((name) => !provisioned.has(name) && !(name in MANUAL));
    assert.deepEqual(missing, []);
  });

  test('every feature setting of the code is documented', () => {
    const extra = [...new Set(FEATURE_NAMES.flatMap(featureSettings))].filter((name) => !documented.includes(name));
    assert.deepEqual(extra, []);
  });
});

describe('infra/ provisions what the code uses and outputs what the deployment guide pastes', () => {
  test('every table the code opens is created', () => {
    const tables = bicepVarStrings(main, 'tableNames');
    const used = new Set<string>();
    const sources = filesUnder('src', '.ts').map((file) => read(file));
    const constants = new Map<string, string>();
    for (const text of sources) {
      for (const m of text.matchAll(/const (\w+) = '([a-z0-9]+)';/gi)) constants.set(m[1] as string, m[2] as string);
    }
    for (const text of sources) {
      for (const m of text.matchAll(/\btableClient\(\s*(?:'([^']+)'|(\w+))\s*\)/g)) {
        const name = m[1] ?? constants.get(m[2] as string);
        assert.ok(name, `tableClient(${m[2]}) uses a name this test cannot resolve`);
        used.add(name);
      }
    }
    assert.ok(used.size > 0);
    for (const name of used) assert.ok(tables.includes(name), `table ${name} is not in infra/main.bicep tableNames`);
  });

  test('the notification queue and its poison queue are created with the code default', () => {
    assert.equal(bicepParamDefault(main, 'notificationQueueName'), DEFAULTS.NOTIFICATION_QUEUE);
    assert.match(main, /\{ name: notificationQueueName \}/);
    assert.match(main, /\{ name: '\$\{notificationQueueName\}-poison' \}/);
  });

  test('every URL output points at a route the app registers', () => {
    const routes = new Set<string>();
    for (const file of filesUnder('src/functions', '.ts')) {
      for (const m of read(file).matchAll(/route: '([^']+)'/g)) routes.add(m[1] as string);
    }
    const outputs = [...main.matchAll(/^output (\w+) string = '\$\{baseUrl\}\/api\/([^']+)'$/gm)];
    const names = outputs.map((m) => m[1]);
    for (const expected of [
      'HEALTH_URL',
      'GRAPH_NOTIFICATION_URL',
      'GRAPH_LIFECYCLE_NOTIFICATION_URL',
      'ACTIONABLE_MESSAGE_TARGET_URL',
      'OUTGOING_WEBHOOK_CALLBACK_URL',
      'BOT_MESSAGING_ENDPOINT',
      'SIGNIN_REDIRECT_URI',
      'SETTINGS_PAGE_URL',
    ]) {
      assert.ok(names.includes(expected), `output ${expected}`);
    }
    for (const [, name, route] of outputs) assert.ok(routes.has(route as string), `${name}: no function has route ${route}`);
    assert.match(main, /^output AZURE_FUNCTION_NAME string/m);
    assert.match(main, /^output MANAGED_IDENTITY_CLIENT_ID string = identity\.outputs\.clientId$/m);
  });

  test('every module and query file a template loads exists, and every query file is used', () => {
    const bicepFiles = filesUnder('infra', '.bicep');
    const loaded = new Set<string>();
    for (const file of bicepFiles) {
      const dir = file.slice(0, file.lastIndexOf('/'));
      for (const m of read(file).matchAll(/(?:loadTextContent|loadJsonContent)\('([^']+)'\)|^module \w+ '([^']+\.bicep)'/gm)) {
        const target = join(dir, (m[1] ?? m[2]) as string).split('\\').join('/');
        assert.ok(existsSync(join(repoRoot, target)), `${file} loads ${target}, which does not exist`);
        loaded.add(target);
      }
    }
    for (const kql of filesUnder('infra/monitoring', '.kql')) assert.ok(loaded.has(kql), `${kql} is not used`);
  });

  test('the queries look for events the code logs', () => {
    const logged = new Set<string>();
    for (const file of filesUnder('src', '.ts')) {
      for (const m of read(file).matchAll(/logEvent\([^,]+,\s*'\w+',\s*'([\w.]+)'/g)) logged.add(m[1] as string);
    }
    for (const file of filesUnder('infra/monitoring', '.kql')) {
      for (const m of read(file).matchAll(/message startswith "([A-Za-z]+\.[\w.]+) "/g)) {
        assert.ok(logged.has(m[1] as string), `${file} queries ${m[1]}, which src/ never logs`);
      }
    }
  });
});
