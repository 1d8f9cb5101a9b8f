import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { crc32, inflateRawSync } from 'node:zlib';

import Ajv04 from 'ajv-draft-04';

import { APP_PACKAGE_DIR, buildPackage, renderManifest } from '../../../tools/package-teams';
import { BOT_APP_ID, PUBLIC_BASE_URL } from '../../../tools/stand-ins/bot';

/**
 * The Teams app package: the manifest, filled in, validates against the schema Microsoft publishes for
 * its version (the copy shipped in @microsoft/app-manifest); it declares what the endpoint serves; the
 * icons are the sizes Teams requires; and the zip holds exactly the three files, intact.
 */

const template = readFileSync(join(APP_PACKAGE_DIR, 'manifest.json'), 'utf8');
const settings = { botAppId: BOT_APP_ID, publicBaseUrl: PUBLIC_BASE_URL };

interface Manifest {
  $schema: string;
  manifestVersion: string;
  id: string;
  bots: { botId: string }[];
  composeExtensions: {
    botId: string;
    canUpdateConfiguration: boolean;
    commands: { id: string; type: string; initialRun: boolean; parameters: { name: string }[] }[];
    messageHandlers: { type: string; value: { domains: string[] } }[];
  }[];
  validDomains: string[];
}

function schemaFor(version: string): object {
  const path = require.resolve(`@microsoft/app-manifest/build/json-schemas/teams/v${version}/MicrosoftTeams.schema.json`);
  return JSON.parse(readFileSync(path, 'utf8')) as object;
}

/** PNG width, height, bit depth and colour type from the IHDR chunk. */
function pngHeader(png: Buffer): { width: number; height: number; depth: number; colorType: number } {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(png.toString('ascii', 12, 16), 'IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20), depth: png[24] ?? 0, colorType: png[25] ?? 0 };
}

describe('Teams app package', () => {
  test('the filled-in manifest validates against its version’s JSON schema', () => {
    const manifest = renderManifest(template, settings) as Manifest;
    assert.equal(manifest.$schema, `https://developer.microsoft.com/en-us/json-schemas/teams/v${manifest.manifestVersion}/MicrosoftTeams.schema.json`);
    const ajv = new Ajv04({ allErrors: true, strict: false });
    const validate = ajv.compile(schemaFor(manifest.manifestVersion));
    assert.equal(validate(manifest), true, JSON.stringify(validate.errors, null, 2));
  });

  test('the schema check is real: a manifest missing a required field or with a bad bot id fails', () => {
    const ajv = new Ajv04({ allErrors: true, strict: false });
    const manifest = renderManifest(template, settings) as Manifest & { accentColor?: string };
    const validate = ajv.compile(schemaFor(manifest.manifestVersion));
    delete manifest.accentColor;
    assert.equal(validate(manifest), false);
    assert.throws(() => renderManifest(template, { ...settings, botAppId: 'not-a-guid' }), /GUID/);
    assert.throws(() => renderManifest(template, { ...settings, publicBaseUrl: 'http://example.com' }), /https/);
  });

  test('declares the bot, both search commands with their parameter and initialRun, settings, link unfurling and the domain', () => {
    const manifest = renderManifest(template, settings) as Manifest;
    const host = new URL(PUBLIC_BASE_URL).host;
    assert.equal(manifest.id, BOT_APP_ID);
    assert.equal(manifest.bots[0]?.botId, BOT_APP_ID);
    const extension = manifest.composeExtensions[0];
    assert.equal(extension?.botId, BOT_APP_ID);
    assert.equal(extension?.canUpdateConfiguration, true);
    assert.deepEqual(
      extension?.commands.map((c) => [c.id, c.type, c.initialRun, c.parameters.map((p) => p.name)]),
      [
        ['searchPeople', 'query', true, ['query']],
        ['searchExpenses', 'query', true, ['query']],
      ],
    );
    assert.deepEqual(extension?.messageHandlers, [{ type: 'link', value: { domains: [host] } }]);
    assert.deepEqual(manifest.validDomains, [host]);
  });

  test('icons: color 192×192 and outline 32×32 white on transparent, both RGBA PNGs', () => {
    const color = pngHeader(readFileSync(join(APP_PACKAGE_DIR, 'color.png')));
    const outline = pngHeader(readFileSync(join(APP_PACKAGE_DIR, 'outline.png')));
    assert.deepEqual(color, { width: 192, height: 192, depth: 8, colorType: 6 });
    assert.deepEqual(outline, { width: 32, height: 32, depth: 8, colorType: 6 });
  });

  test('the zip holds manifest.json and the icons at its root, each intact', () => {
    const zip = buildPackage(settings);
    const files = new Map<string, Buffer>();
    let offset = 0;
    while (zip.readUInt32LE(offset) === 0x04034b50) {
      const size = zip.readUInt32LE(offset + 18);
      const nameLength = zip.readUInt16LE(offset + 26);
      const extra = zip.readUInt16LE(offset + 28);
      const name = zip.toString('utf8', offset + 30, offset + 30 + nameLength);
      const start = offset + 30 + nameLength + extra;
      const data = inflateRawSync(zip.subarray(start, start + size));
      assert.equal(crc32(data), zip.readUInt32LE(offset + 14), name);
      files.set(name, data);
      offset = start + size;
    }
    assert.deepEqual([...files.keys()].sort(), ['color.png', 'manifest.json', 'outline.png']);
    assert.deepEqual(files.get('color.png'), readFileSync(join(APP_PACKAGE_DIR, 'color.png')));
    assert.equal((JSON.parse(files.get('manifest.json')?.toString('utf8') ?? '{}') as Manifest).id, BOT_APP_ID);
  });
});
