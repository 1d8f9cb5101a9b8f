/**
 * Azure Functions route templates (`expenses/{id}`, `items/{id:int?}`, `files/{*path}`), matched the way
 * the host matches them: literal segments case-insensitively, parameters by name.
 */
export interface RouteMatch {
  params: Record<string, string>;
}

type Segment =
  | { kind: 'literal'; value: string }
  | { kind: 'param'; name: string; optional: boolean; constraint?: string }
  | { kind: 'catchAll'; name: string };

export class RouteTemplate {
  private readonly segments: Segment[];

  constructor(readonly template: string) {
    this.segments = template
      .split('/')
      .filter((s) => s.length > 0)
      .map((s): Segment => {
        const param = /^\{(\*)?([A-Za-z_][\w]*)(?::([a-z]+))?(\?)?\}$/.exec(s);
        if (!param) return { kind: 'literal', value: s.toLowerCase() };
        const [, star, name = '', constraint, optional] = param;
        if (star) return { kind: 'catchAll', name };
        return constraint === undefined
          ? { kind: 'param', name, optional: optional === '?' }
          : { kind: 'param', name, optional: optional === '?', constraint };
      });
  }

  match(path: string): RouteMatch | undefined {
    const parts = path.split('/').filter((s) => s.length > 0);
    const params: Record<string, string> = {};
    for (let i = 0; i < this.segments.length; i++) {
      const segment = this.segments[i] as Segment;
      const part = parts[i];
      if (segment.kind === 'catchAll') {
        params[segment.name] = parts.slice(i).map(decodeURIComponent).join('/');
        return { params };
      }
      if (part === undefined) {
        if (segment.kind === 'param' && segment.optional) continue;
        return undefined;
      }
      if (segment.kind === 'literal') {
        if (decodeURIComponent(part).toLowerCase() !== segment.value) return undefined;
        continue;
      }
      const value = decodeURIComponent(part);
      if (!satisfies(value, segment.constraint)) return undefined;
      params[segment.name] = value;
    }
    return parts.length <= this.segments.length ? { params } : undefined;
  }
}

function satisfies(value: string, constraint: string | undefined): boolean {
  switch (constraint) {
    case undefined:
      return true;
    case 'alpha':
      return /^[a-z]+$/i.test(value);
    case 'int':
    case 'long':
      return /^-?\d+$/.test(value);
    case 'guid':
      return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
    case 'bool':
      return /^(true|false)$/i.test(value);
    default:
      return true;
  }
}
