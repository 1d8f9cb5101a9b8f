import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';

/** Readers of the repository's own files (Bicep, docs, sources) for the infra tests. */

export const repoRoot = resolve(__dirname, '..', '..', '..');

export function read(path: string): string {
  return readFileSync(join(repoRoot, path), 'utf8');
}

/** Files under a repository folder, `/`-separated and relative to the root. */
export function filesUnder(dir: string, suffix = ''): string[] {
  const found: string[] = [];
  const visit = (path: string): void => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const child = join(path, entry.name);
      if (entry.isDirectory()) visit(child);
      else if (entry.name.endsWith(suffix)) found.push(relative(repoRoot, child).split(sep).join('/'));
    }
  };
  visit(join(repoRoot, dir));
  return found.sort();
}

export interface SourceRegistration {
  name: string;
  trigger: string | undefined;
  route: string | undefined;
  authLevel: string | undefined;
  methods: string[];
}

/** What each src/functions file registers, read from its text: the function is named after its file. */
export function registrationsInSources(): SourceRegistration[] {
  return filesUnder('src/functions', '.ts').map((file) => {
    const text = read(file);
    return {
      name: /([^/]+)\.ts$/.exec(file)?.[1] as string,
      trigger: /\bapp\.(http|storageQueue|timer)\(/.exec(text)?.[1],
      route: /route: '([^']+)'/.exec(text)?.[1],
      authLevel: /authLevel: '([^']+)'/.exec(text)?.[1],
      methods: [...(/methods: \[([^\]]*)\]/.exec(text)?.[1] ?? '').matchAll(/'(\w+)'/g)].map((m) => m[1] as string),
    };
  });
}

/** Top-level keys of `var <name> = { ... }` in a Bicep file. */
export function bicepObjectKeys(bicep: string, variable: string): string[] {
  const start = bicep.search(new RegExp(`^var ${variable} = \\{`, 'm'));
  if (start === -1) throw new Error(`var ${variable} not found`);
  const keys: string[] = [];
  let depth = 0;
  for (const line of bicep.slice(start).split('\n')) {
    if (depth === 1) {
      const key = /^\s*'?([A-Za-z_][A-Za-z0-9_]*)'?\s*:/.exec(line)?.[1];
      if (key) keys.push(key);
    }
    for (const char of line) {
      if (char === '{') depth++;
      else if (char === '}') depth--;
    }
    if (depth === 0) break;
  }
  return keys;
}

/** The strings of a multi-line array literal that starts right after `at` in the text. */
function stringArrayAfter(bicep: string, at: number): string[] {
  const rest = bicep.slice(at);
  const body = rest.slice(0, rest.indexOf('\n]'));
  return [...body.matchAll(/'([^']*)'/g)].map((m) => m[1] as string);
}

/** The default of `param <name> <type> = <value>`; arrays of strings come back as string[]. */
export function bicepParamDefault(bicep: string, name: string): string | string[] | undefined {
  const match = new RegExp(`^param ${name} \\w+(?: = (.*))?$`, 'm').exec(bicep);
  if (!match) throw new Error(`param ${name} not found`);
  const value = match[1];
  if (value === undefined) return undefined;
  if (value === '[') return stringArrayAfter(bicep, (match.index ?? 0) + match[0].length);
  const literal = /^'([^']*)'$/.exec(value);
  return literal ? (literal[1]) : value;
}

/** The strings of `var <name> = [ ... ]`. */
export function bicepVarStrings(bicep: string, name: string): string[] {
  const match = new RegExp(`^var ${name} = \\[$`, 'm').exec(bicep);
  if (!match) throw new Error(`var ${name} = [ not found`);
  return stringArrayAfter(bicep, match.index + match[0].length);
}

/** Every `param` of a Bicep file: name, type and the default as written (undefined without one). */
export function bicepParams(bicep: string): { name: string; type: string; fallback: string | undefined }[] {
  return [...bicep.matchAll(/^param (\w+) (\w+)(?: = (.*))?$/gm)].map((m) => ({
    name: m[1] as string,
    type: m[2] as string,
    fallback: m[3],
  }));
}

/** Setting names in the first column of the markdown tables under a `## <heading>` (docs/configuration.md: `## Settings`). */
export function settingsTable(markdown: string, heading: string): string[] {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  if (start === -1) throw new Error(`## ${heading} not found`);
  const end = markdown.indexOf('\n## ', start + 1);
  const section = markdown.slice(start, end === -1 ? undefined : end);
  const names = new Set<string>();
  for (const line of section.split('\n')) {
    const firstCell = /^\|([^|]*)\|/.exec(line)?.[1];
    if (!firstCell || /^\s*-+\s*$/.test(firstCell) || firstCell.trim() === 'setting') continue;
    for (const m of firstCell.matchAll(/`([A-Za-z_][A-Za-z0-9_]*)`/g)) names.add(m[1] as string);
  }
  return [...names].sort();
}
