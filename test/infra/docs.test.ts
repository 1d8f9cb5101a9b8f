import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, test } from 'node:test';

import { filesUnder, read, registrationsInSources, repoRoot } from './sources';

const markdownFiles = ['README.md', ...filesUnder('docs', '.md')];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function anchorOf(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}_\- ]/gu, '').replace(/ /g, '-');
}

function headingAnchors(markdown: string): Set<string> {
  const outsideCode = markdown.replace(/```[\s\S]*?```/g, '');
  return new Set([...outsideCode.matchAll(/^#+ (.+)$/gm)].map((m) => anchorOf(m[1] as string)));
}

function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  assert.notEqual(start, -1, `## ${heading} not found`);
  const end = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, end === -1 ? undefined : end);
}

describe('the README and docs/ stand on their own', () => {
  test('every relative link points at a file of the repository and a heading it has', () => {
    const broken: string[] = [];
    for (const file of markdownFiles) {
      for (const [, link = ''] of read(file).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(link)) continue;
        const [path = '', anchor] = link.split('#');
        const target = path === '' ? file : normalize(join(dirname(file), path)).split('\\').join('/');
        if (target.startsWith('..') || !existsSync(join(repoRoot, target))) broken.push(`${file}: ${link}`);
        else if (anchor && !headingAnchors(read(target)).has(anchor)) broken.push(`${file}: ${link} (no such heading)`);
      }
    }
    assert.deepEqual(broken, []);
  });

  test('nothing refers to files outside the repository', () => {
    for (const file of markdownFiles) {
      assert.doesNotMatch(read(file), /\.\.\/shared|CONTRACT\.md/, `${file} refers outside the repository`);
    }
  });

  test('the README stays a short front door that links every guide in docs/', () => {
    const readme = read('README.md');
    assert.ok(readme.split('\n').length <= 200, `README.md has ${readme.split('\n').length} lines`);
    for (const guide of filesUnder('docs', '.md')) assert.ok(readme.includes(`](${guide})`), `README.md does not link ${guide}`);
  });

  test('the README layout names every folder of the repository, src/lib, test and tools', () => {
    const layout = section(read('README.md'), 'Layout');
    const folders = (dir: string): string[] =>
      readdirSync(join(repoRoot, dir), { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .map((entry) => (dir ? `${dir}/${entry.name}` : entry.name));
    const tracked = folders('').filter((name) => !name.startsWith('.') && !['node_modules', 'dist', 'bench-results'].includes(name));
    const expected = [...tracked, ...folders('src'), ...folders('src/lib'), ...folders('test'), ...folders('tools')];
    assert.deepEqual(expected.filter((path) => !layout.includes(`\`${path}/`)), []);
  });
});

describe('docs/surface.md describes the functions src/functions registers', () => {
  const table = section(read('docs/surface.md'), 'Functions');
  const registrations = registrationsInSources();

  test('one row per function, with its trigger, route, methods and auth level', () => {
    assert.ok(registrations.length > 0);
    for (const { name, trigger, route, authLevel, methods } of registrations) {
      const row = table.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
      assert.ok(row, `no row for ${name}`);
      if (trigger === 'http') {
        assert.ok(row.includes(`\`api/${route}\``), `${name}: route api/${route}`);
        assert.ok(row.includes(`| ${authLevel} |`), `${name}: auth level ${authLevel}`);
        for (const method of methods) assert.ok(row.includes(`HTTP ${method}`), `${name}: method ${method}`);
      } else {
        assert.ok(row.includes(trigger === 'timer' ? '| timer |' : '| storage queue |'), `${name}: trigger ${trigger}`);
      }
    }
  });

  test('no row names a function that is not registered', () => {
    const names = registrations.map((r) => r.name);
    const rows = [...table.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual(rows.filter((name) => !names.includes(name as string)), []);
  });
});
