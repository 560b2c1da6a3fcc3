import { Ast, parseExpression } from './parser';
import { SyntaxProblem } from './tokenizer';

function problem(src: string, opts = {}): SyntaxProblem {
  try {
    parseExpression(src, opts);
  } catch (e) {
    if (e instanceof SyntaxProblem) return e;
    throw e;
  }
  throw new Error(`expected a syntax problem for ${src}`);
}

function shape(a: Ast): unknown {
  switch (a.t) {
    case 'logic':
      return [a.op, ...a.args.map(shape)];
    case 'cmp':
    case 'arith':
      return [a.op, shape(a.left), shape(a.right)];
    case 'not':
    case 'neg':
    case 'exists':
      return [a.t, shape(a.arg)];
    case 'path':
      return a.name;
    case 'call':
      return { call: a.name, args: a.args.map((x) => [x.name ?? null, shape(x.value)]) };
    case 'list':
      return a.items.map(shape);
    case 'null':
      return null;
    default:
      return a.value;
  }
}

describe('parseExpression', () => {
  it('parses the issue example with upper-case AND', () => {
    expect(shape(parseExpression('payload.amount > 1000 AND payload.category == "food"'))).toEqual(['and', ['>', 'payload.amount', 1000], ['==', 'payload.category', 'food']]);
  });

  it('gives and precedence over or, and not over and', () => {
    expect(shape(parseExpression('a or b and not c'))).toEqual(['or', 'a', ['and', 'b', ['not', 'c']]]);
    expect(shape(parseExpression('(a OR b) and c'))).toEqual(['and', ['or', 'a', 'b'], 'c']);
  });

  it('gives * over + and keeps arithmetic left-associative', () => {
    expect(shape(parseExpression('1 + 2 * 3 - 4'))).toEqual(['-', ['+', 1, ['*', 2, 3]], 4]);
    expect(shape(parseExpression('-x % 3'))).toEqual(['%', ['neg', 'x'], 3]);
  });

  it('reads durations, ISO timestamps, lists, null and booleans', () => {
    expect(shape(parseExpression('[30d, 12h, 15m, 1h30m]'))).toEqual([30 * 86_400_000, 12 * 3_600_000, 15 * 60_000, 90 * 60_000]);
    expect(shape(parseExpression('2024-01-31T10:00:00Z'))).toBe(Date.UTC(2024, 0, 31, 10));
    expect(shape(parseExpression('2024-01-31'))).toBe(Date.UTC(2024, 0, 31));
    expect(shape(parseExpression('[null, TRUE, false]'))).toEqual([null, true, false]);
  });

  it('parses in, not in and the word operators', () => {
    expect(shape(parseExpression('x not in ["a", "b"]'))).toEqual(['not in', 'x', ['a', 'b']]);
    expect(shape(parseExpression('x IN [1]'))).toEqual(['in', 'x', [1]]);
    expect(shape(parseExpression('s starts_with "a" and s matches "^a"'))).toEqual(['and', ['starts_with', 's', 'a'], ['matches', 's', '^a']]);
  });

  it('parses exists in prefix, call and postfix form', () => {
    expect(shape(parseExpression('exists payload.x'))).toEqual(['exists', 'payload.x']);
    expect(shape(parseExpression('exists(payload.x)'))).toEqual(['exists', 'payload.x']);
    expect(shape(parseExpression('payload.x exists'))).toEqual(['exists', 'payload.x']);
  });

  it('parses named and positional fact arguments and dotted call names', () => {
    expect(shape(parseExpression('events_count(type: "topup", within: 30d)'))).toEqual({ call: 'events_count', args: [['type', 'topup'], ['within', 2_592_000_000]] });
    expect(shape(parseExpression('list_contains("blocked_ips", payload.ip)'))).toEqual({ call: 'list_contains', args: [[null, 'blocked_ips'], [null, 'payload.ip']] });
    expect(shape(parseExpression('segment.member("vip")'))).toEqual({ call: 'segment.member', args: [[null, 'vip']] });
  });

  it('decodes string escapes in both quote styles', () => {
    expect(shape(parseExpression(`'it\\'s' == "a\\"b\\\\d\\u0041"`))).toEqual(['==', "it's", 'a"b\\dA']);
  });

  it.each([
    ['payload.amount > ', 1, 18, 'unexpected end of expression'],
    ['payload.amount = 5', 1, 16, 'unexpected "="'],
    ['a and\n  b >> 3', 2, 6, 'unexpected ">"'],
    ['"open', 1, 1, 'unterminated string'],
    ['x == 5 $', 1, 8, 'unexpected character "$"'],
    ['(a and b', 1, 9, 'expected ")"'],
    ['a < b < c', 1, 7, 'comparisons do not chain'],
    ['30days > 1', 1, 1, 'invalid number'],
    ['f(a: 1,', 1, 8, 'unexpected end'],
    ['x in [1, 2', 1, 11, 'expected "]"'],
    ['payload.', 1, 9, 'expected a field name'],
  ])('reports %j at %i:%i', (src, line, column, message) => {
    const p = problem(src);
    expect(p.message).toContain(message);
    expect([p.line, p.column]).toEqual([line, column]);
  });

  it('hints == when a single = is used', () => {
    expect(problem('a = 1').hint).toBe('use == to compare');
  });

  it('refuses nesting beyond the depth limit without overflowing the stack', () => {
    expect(problem(`${'('.repeat(5000)}1${')'.repeat(5000)}`, { maxLength: 100_000 }).message).toContain('deeper than 64');
    expect(problem(`${'not '.repeat(100)}a`).message).toContain('deeper than 64');
    expect(problem(`${'-'.repeat(100)}a`).message).toContain('deeper than 64');
    expect(() => parseExpression(`${'('.repeat(60)}1${')'.repeat(60)}`)).not.toThrow();
  });

  it('refuses expressions over the length limit', () => {
    expect(problem(`a == "${'x'.repeat(5000)}"`).message).toContain('the limit is 4096');
  });

  it('does not count long flat chains as nesting', () => {
    const chain = Array.from({ length: 200 }, (_, i) => `a${i} > 1`).join(' and ');
    expect(shape(parseExpression(chain))).toHaveLength(201);
  });
});
