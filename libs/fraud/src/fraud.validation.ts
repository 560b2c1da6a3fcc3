import { ValidationError, type FieldProblem } from '@arbiter/platform';
import { parseTimestamp } from '@arbiter/rules';

/** Collects field problems for one request body and throws them all at once. */
export class BodyCheck {
  readonly problems: FieldProblem[] = [];

  constructor(readonly body: unknown) {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) this.problems.push({ path: 'body', message: 'must be a JSON object' });
  }

  get obj(): Record<string, unknown> {
    return typeof this.body === 'object' && this.body !== null && !Array.isArray(this.body) ? (this.body as Record<string, unknown>) : {};
  }

  only(...keys: string[]): this {
    for (const k of Object.keys(this.obj)) if (!keys.includes(k)) this.problems.push({ path: k, message: `unknown field (expected ${keys.join(', ')})` });
    return this;
  }

  string(key: string, opts: { required?: boolean; max?: number; values?: readonly string[] } = {}): string | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) {
      if (opts.required) this.problems.push({ path: key, message: opts.values ? `is required (one of ${opts.values.join(', ')})` : 'is required' });
      return undefined;
    }
    if (typeof v !== 'string') return void this.problems.push({ path: key, message: 'must be a string' });
    if (opts.values && !opts.values.includes(v)) return void this.problems.push({ path: key, message: `must be one of ${opts.values.join(', ')}` });
    if (opts.max !== undefined && v.length > opts.max) return void this.problems.push({ path: key, message: `must be at most ${opts.max} characters` });
    return v;
  }

  values(key: string, max: number): string[] | undefined {
    const v = this.obj[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) return void this.problems.push({ path: key, message: 'must be a list of strings' });
    if (v.length > max) return void this.problems.push({ path: key, message: `must have at most ${max} items` });
    const out: string[] = [];
    v.forEach((item, i) => {
      if (typeof item !== 'string' || item.length === 0 || item.length > 512) this.problems.push({ path: `${key}[${i}]`, message: 'must be a non-empty string of at most 512 characters' });
      else out.push(item);
    });
    return out;
  }

  timestamp(key: string): Date | undefined {
    const v = this.obj[key];
    if (v === undefined) return void this.problems.push({ path: key, message: 'is required (an ISO-8601 timestamp)' });
    const ms = typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/i.test(v) ? parseTimestamp(v) : undefined;
    const d = ms === undefined ? undefined : new Date(ms);
    if (!d) return void this.problems.push({ path: key, message: 'must be an ISO-8601 timestamp such as 2030-01-01T00:00:00Z' });
    return d;
  }

  done(): void {
    if (this.problems.length) throw new ValidationError(this.problems);
  }
}

export const NAME = /^[A-Za-z0-9_.:-]{1,100}$/;

export function checkName(name: string, path = 'name'): void {
  if (!NAME.test(name)) throw new ValidationError([{ path, message: 'must be 1-100 letters, digits, _ . : or -' }]);
}

export function pageSize(raw: string | undefined, fallback: number, max: number, path = 'limit'): number {
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d{1,6}$/.test(raw) || Number(raw) < 1 || Number(raw) > max) throw new ValidationError([{ path, message: `must be a whole number from 1 to ${max}` }]);
  return Number(raw);
}
