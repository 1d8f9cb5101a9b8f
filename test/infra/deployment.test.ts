import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { DEFAULTS } from '../../src/lib/config/settings';
import { PACKAGE_DIR } from '../../tools/package-app';
import { bicepObjectKeys, bicepParams, filesUnder, read } from './sources';

/**
 * What `azd up` on a fresh clone relies on and Bicep cannot check here (no Bicep compiler on these machines):
 * the parameters azd passes, the Graph root, the hook that builds the package azd zips, and the bot.
 */

const main = read('infra/main.bicep');
const params = bicepParams(main);
const { parameters } = JSON.parse(read('infra/main.parameters.json')) as {
  parameters: Record<string, { value: unknown }>;
};

/** `${NAME}` or `${NAME=default}`, the azd substitution of one environment variable, as the whole value. */
function substitution(param: string): { variable: string; fallback: string | undefined } {
  const value = parameters[param]?.value;
  const match = typeof value === 'string' ? /^\$\{([A-Z][A-Z0-9_]*)(?:=([^}]*))?\}$/.exec(value) : null;
  assert.ok(match, `${param}: the value must be "\${NAME}" or "\${NAME=default}", not ${JSON.stringify(value)}`);
  return { variable: match[1] as string, fallback: match[2] };
}

/** The default of a Bicep param as the text azd would substitute: a literal, or undefined for an expression. */
function literalDefault(fallback: string): string | undefined {
  const quoted = /^'([^'\\]*)'$/.exec(fallback)?.[1];
  if (quoted !== undefined) return quoted;
  return /^(true|false|-?\d+)$/.test(fallback) ? fallback : undefined;
}

describe('main.parameters.json gives azd a variable for every parameter', () => {
  test('every parameter of main.bicep has an entry, and every entry is a parameter', () => {
    const names = params.map((p) => p.name);
    assert.deepEqual(names.filter((name) => !(name in parameters)), [], 'parameters without an entry');
    assert.deepEqual(Object.keys(parameters).filter((name) => !names.includes(name)), [], 'entries that are no parameter');
  });

  test('every entry is an azd substitution whose default is the Bicep default', () => {
    for (const { name, fallback } of params) {
      const entry = substitution(name);
      if (fallback === undefined) continue; // required: azd asks for it or sets it (AZURE_ENV_NAME, AZURE_LOCATION)
      const bicepDefault = literalDefault(fallback);
      // azd passes the empty string for an empty variable, which would replace an expression default.
      assert.notEqual(bicepDefault, undefined, `${name}: a default azd can repeat must be a literal, not ${fallback}`);
      assert.equal(entry.fallback ?? '', bicepDefault, `${name}: main.parameters.json and main.bicep disagree on the default`);
    }
  });

  test('a parameter that becomes an app setting is read from the azd variable of the same name', () => {
    const names = params.map((p) => p.name);
    const lines = main.slice(main.indexOf('var appSettings = {')).split('\n');
    let checked = 0;
    for (const key of bicepObjectKeys(main, 'appSettings')) {
      const expression = lines.find((line) => line.trimStart().startsWith(`${key}:`)) ?? '';
      const flat = key.replaceAll('_', '').toLowerCase();
      const param = [...expression.matchAll(/\b\w+\b/g)].map((m) => m[0]).find((word) => names.includes(word) && word.toLowerCase().startsWith(flat));
      if (!param) continue;
      assert.equal(substitution(param).variable, key, `${param} sets ${key}`);
      checked++;
    }
    assert.ok(checked >= 15, `only ${checked} settings checked`);
  });
});

describe('infra/ calls Microsoft Graph, not Azure AD Graph', () => {
  test('no environment().graph (the retired https://graph.windows.net/) anywhere in infra/', () => {
    for (const file of filesUnder('infra')) {
      assert.doesNotMatch(read(file), /environment\(\)\.graph\b|graph\.windows\.net/, file);
    }
  });

  test('the Graph root defaults to the app default, https://graph.microsoft.com, in Bicep and for azd', () => {
    assert.equal(params.find((p) => p.name === 'graphBaseUrl')?.fallback, `'${DEFAULTS.GRAPH_BASE_URL}'`);
    assert.deepEqual(substitution('graphBaseUrl'), { variable: 'GRAPH_BASE_URL', fallback: DEFAULTS.GRAPH_BASE_URL });
    assert.match(main, /^ {2}GRAPH_BASE_URL: graphBaseUrl$/m);
  });
});

describe('PUBLIC_BASE_URL comes from the site', () => {
  const api = read('infra/app/api.bicep');

  test('the default origin is the site\'s defaultHostname output, not a name plus .azurewebsites.net', () => {
    assert.doesNotMatch(main + api, /azurewebsites\.net/);
    assert.match(api, /'https:\/\/\$\{site\.outputs\.defaultHostname\}'/);
    assert.match(api, /^ {2}PUBLIC_BASE_URL: baseUrl$/m);
    assert.match(main, /^var baseUrl = api\.outputs\.publicBaseUrl$/m);
  });
});

describe('azure.yaml builds and deploys the lean package on a fresh clone', () => {
  const yaml = read('azure.yaml');
  /** The lines of the `api` service, indentation kept. */
  const service = yaml.slice(yaml.indexOf('\n  api:\n')).split('\n').slice(2).filter((line) => line.startsWith('    ') || line === '');

  test('a TypeScript function app without remote build, zipped from the folder tools/package-app.ts writes', () => {
    const value = (key: string): string | undefined => new RegExp(`^ {4}${key}: (.+)$`).exec(service.find((l) => l.startsWith(`    ${key}:`)) ?? '')?.[1];
    assert.equal(value('language'), 'ts');
    assert.equal(value('host'), 'function');
    assert.equal(value('remoteBuild'), 'false');
    assert.equal(value('dist'), PACKAGE_DIR.split('\\').join('/'));
  });

  test('the service prepackage hook runs npm run package on POSIX and Windows, which the package script builds', () => {
    // azd's Node package step runs only `npm run build` before it reads `dist`; the hook runs in between.
    const hooks = service.slice(service.indexOf('    hooks:'));
    assert.equal(hooks[1], '      prepackage:');
    for (const [platform, shell] of [['posix', 'sh'], ['windows', 'pwsh']] as const) {
      const at = hooks.indexOf(`        ${platform}:`);
      assert.ok(at > 0, `prepackage.${platform}`);
      assert.deepEqual(hooks.slice(at + 1, at + 3).sort(), [`          run: npm run package`, `          shell: ${shell}`]);
    }
    const { scripts } = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    assert.match(scripts.package ?? '', /^npm run build && node dist\/tools\/package-app\.js$/); // the same build as npm start and the tests
  });
});

describe('the Azure Bot is provisioned with the app\'s managed identity', () => {
  const bot = read('infra/app/bot.bicep');

  test('an azurebot in location global whose app is the user-assigned identity of this tenant', () => {
    assert.match(bot, /^resource bot 'Microsoft\.BotService\/botServices@2022-09-15' = \{$/m);
    assert.match(bot, /^ {2}kind: 'azurebot'$/m);
    assert.match(bot, /^ {2}location: 'global'$/m);
    assert.match(bot, /^ {4}msaAppType: 'UserAssignedMSI'$/m);
    assert.match(bot, /^ {4}msaAppId: identityClientId$/m);
    assert.match(bot, /^ {4}msaAppTenantId: tenant\(\)\.tenantId$/m);
    assert.match(bot, /^ {4}msaAppMSIResourceId: identityResourceId$/m);
    assert.match(bot, /^ {4}endpoint: messagingEndpoint$/m);
    const code = bot.replace(/\/\/.*$/gm, '');
    assert.doesNotMatch(code, /MultiTenant|SingleTenant|password|secret/i);
    assert.match(main, /^ {4}identityResourceId: identity\.outputs\.resourceId$/m);
    assert.match(main, /^ {4}identityClientId: identity\.outputs\.clientId$/m);
    assert.match(main, /^ {4}messagingEndpoint: '\$\{baseUrl\}\/api\/compose-extension'$/m);
  });

  test('the Microsoft Teams and Outlook channels are children of the bot', () => {
    for (const channel of ['MsTeamsChannel', 'OutlookChannel']) {
      const block = new RegExp(
        `^resource \\w+ 'Microsoft\\.BotService/botServices/channels@2022-09-15' = \\{\\n {2}parent: bot\\n {2}name: '${channel}'\\n(?: {2}.*\\n| {4}.*\\n)*? {4}channelName: '${channel}'$`,
        'm',
      );
      assert.match(bot, block, channel);
    }
  });

  test('the app accepts the bot: BOT_APP_TYPE is its msaAppType, BOT_APP_ID the identity\'s client id, BOT_TENANT_ID this tenant', () => {
    const msaAppType = /^ {4}msaAppType: '(\w+)'$/m.exec(bot)?.[1];
    assert.equal(msaAppType, 'UserAssignedMSI');
    assert.match(main, new RegExp(`^ {2}BOT_APP_TYPE: '${msaAppType}'$`, 'm'));
    assert.match(main, /^ {2}BOT_APP_ID: identity\.outputs\.clientId$/m);
    assert.match(main, /^ {2}BOT_TENANT_ID: tenant\(\)\.tenantId$/m);
    assert.match(main, /^output BOT_APP_ID string = identity\.outputs\.clientId$/m);
  });
});
