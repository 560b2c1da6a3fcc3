import { ValidationError, type FieldProblem } from '@arbiter/platform';

/** `?limit=&offset=` of a paged list: limit 1..500 (default 50), offset >= 0; bad values are a 400. */
export function paging(query: Record<string, unknown>): { limit: number; offset: number } {
  const problems: FieldProblem[] = [];
  const read = (name: string, fallback: number, min: number, max: number): number => {
    const raw = query[name];
    if (raw === undefined) return fallback;
    if (typeof raw !== 'string' || !/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push({ path: name, message: `must be a whole number from ${min} to ${max}` });
      return fallback;
    }
    return Number(raw);
  };
  const limit = read('limit', 50, 1, 500);
  const offset = read('offset', 0, 0, 1_000_000_000);
  if (problems.length) throw new ValidationError(problems);
  return { limit, offset };
}
