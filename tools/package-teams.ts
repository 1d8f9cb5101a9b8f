import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { crc32, deflateRawSync, deflateSync } from 'node:zlib';

/**
 * `npm run package:teams`: the Teams app package (manifest.json with its placeholders filled in, and the
 * two icons) zipped as Teams Developer Portal and "Upload a custom app" take it. Placeholders:
 * `${{BOT_APP_ID}}` (BOT_APP_ID) and `${{APP_DOMAIN}}` (the host of PUBLIC_BASE_URL), read from the
 * environment. `--icons` redraws color.png (192×192) and outline.png (32×32, white on transparent).
 */

const repo = resolve(__dirname, '..', '..');
export const APP_PACKAGE_DIR = join(repo, 'appPackage');

export interface PackageSettings {
  botAppId: string;
  publicBaseUrl: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The manifest with its placeholders replaced; throws when a setting is unusable or one is left over. */
export function renderManifest(template: string, settings: PackageSettings): unknown {
  if (!GUID.test(settings.botAppId)) throw new Error('BOT_APP_ID must be the bot’s Microsoft App ID (a GUID)');
  const base = new URL(settings.publicBaseUrl);
  if (base.protocol !== 'https:') throw new Error('PUBLIC_BASE_URL must be https');
  const filled = template.replaceAll('${{BOT_APP_ID}}', settings.botAppId).replaceAll('${{APP_DOMAIN}}', base.host);
  const left = /\$\{\{(\w+)\}\}/.exec(filled);
  if (left) throw new Error(`manifest placeholder ${left[1]} has no value`);
  return JSON.parse(filled) as unknown;
}

// ---------------------------------------------------------------------------------------------------
// PNG (RGBA, 8 bits per channel)

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

export function encodePng(width: number, height: number, pixel: (x: number, y: number) => [number, number, number, number]): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 6, 0, 0, 0], 8); // depth 8, RGBA, deflate, no filter method, no interlace
  const rows = Buffer.alloc(height * (1 + width * 4));
  for (let y = 0; y < height; y++) {
    const row = y * (1 + width * 4); // each row starts with filter type 0
    for (let x = 0; x < width; x++) rows.set(pixel(x, y), row + 1 + x * 4);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A person glyph (head and shoulders) in unit coordinates, anti-aliased by 4×4 supersampling. */
function personCoverage(size: number, x: number, y: number, scale: number): number {
  let inside = 0;
  for (let sy = 0; sy < 4; sy++) {
    for (let sx = 0; sx < 4; sx++) {
      const u = ((x + (sx + 0.5) / 4) / size - 0.5) / scale + 0.5;
      const v = ((y + (sy + 0.5) / 4) / size - 0.5) / scale + 0.5;
      const head = (u - 0.5) ** 2 + (v - 0.34) ** 2 <= 0.17 ** 2;
      const shoulders = v <= 0.86 && ((u - 0.5) / 0.32) ** 2 + ((v - 0.86) / 0.3) ** 2 <= 1;
      if (head || shoulders) inside++;
    }
  }
  return inside / 16;
}

export function drawIcons(): { color: Buffer; outline: Buffer } {
  const accent = [0x4f, 0x6b, 0xed] as const;
  const color = encodePng(192, 192, (x, y) => {
    const c = personCoverage(192, x, y, 0.72);
    return [0, 1, 2].map((i) => Math.round(accent[i] as number * (1 - c) + 255 * c)).concat(255) as [number, number, number, number];
  });
  // Teams requires the outline icon to be white on a transparent background.
  const outline = encodePng(32, 32, (x, y) => [255, 255, 255, Math.round(255 * personCoverage(32, x, y, 0.9))]);
  return { color, outline };
}

// ---------------------------------------------------------------------------------------------------
// ZIP (deflate, no directories, no extras): enough for an app package

export function zip(entries: readonly { name: string; data: Buffer }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const { name, data } of entries) {
    const fileName = Buffer.from(name, 'utf8');
    const compressed = deflateRawSync(data);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt32LE(0x00210000, 10); // 1980-01-01 00:00, so packages are reproducible
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(fileName.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(0x00210000, 12);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(compressed.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(fileName.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, fileName, compressed);
    centrals.push(central, fileName);
    offset += local.length + fileName.length + compressed.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

export function buildPackage(settings: PackageSettings, dir = APP_PACKAGE_DIR): Buffer {
  const manifest = renderManifest(readFileSync(join(dir, 'manifest.json'), 'utf8'), settings);
  return zip([
    { name: 'manifest.json', data: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`) },
    { name: 'color.png', data: readFileSync(join(dir, 'color.png')) },
    { name: 'outline.png', data: readFileSync(join(dir, 'outline.png')) },
  ]);
}

function main(): void {
  if (process.argv.includes('--icons')) {
    const { color, outline } = drawIcons();
    writeFileSync(join(APP_PACKAGE_DIR, 'color.png'), color);
    writeFileSync(join(APP_PACKAGE_DIR, 'outline.png'), outline);
    console.log('appPackage: color.png and outline.png redrawn');
    return;
  }
  const botAppId = process.env.BOT_APP_ID?.trim() ?? '';
  const publicBaseUrl = process.env.PUBLIC_BASE_URL?.trim() ?? '';
  if (!botAppId || !publicBaseUrl) throw new Error('set BOT_APP_ID and PUBLIC_BASE_URL (e.g. BOT_APP_ID=… PUBLIC_BASE_URL=https://… npm run package:teams)');
  const out = join(APP_PACKAGE_DIR, 'build');
  mkdirSync(out, { recursive: true });
  const file = join(out, 'appPackage.zip');
  writeFileSync(file, buildPackage({ botAppId, publicBaseUrl }));
  console.log(`Teams app package: ${file}`);
}

if (require.main === module) {
  try {
    main();
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
}
