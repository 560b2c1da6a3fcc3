import { codeProblem, codeSpace, generateCode, generateDistinct, normalizeCode, resolveCharset, shapeProblems, type CodeShape } from './code-generator';

const shape = (over: Partial<CodeShape> = {}): CodeShape => ({ prefix: '', length: 8, charset: resolveCharset('unambiguous'), ...over });

describe('code generator', () => {
  it('fills a pattern: # digit, ? letter, * charset character, the rest literal', () => {
    for (let i = 0; i < 200; i++) {
      const code = generateCode(shape({ prefix: 'x-', pattern: 'SUMMER-####-????-**', charset: 'AB' }));
      expect(code).toMatch(/^X-SUMMER-\d{4}-[A-Z]{4}-[AB]{2}$/);
    }
  });

  it('draws length characters from the charset after the prefix', () => {
    const codes = generateDistinct(shape({ prefix: 'VIP', length: 10, charset: resolveCharset('numeric') }), 500);
    expect(new Set(codes).size).toBe(500);
    for (const c of codes) expect(c).toMatch(/^VIP\d{10}$/);
  });

  it('never returns a code already taken', () => {
    const s = shape({ pattern: '##', charset: 'AB' });
    const taken = new Set(Array.from({ length: 90 }, (_, i) => String(i).padStart(2, '0')));
    const codes = generateDistinct(s, 5, taken);
    expect(codes.every((c) => !taken.has(c))).toBe(true);
    expect(new Set(codes).size).toBe(5);
  });

  it('refuses shapes too small for the count, empty charsets and bad characters', () => {
    expect(codeSpace(shape({ pattern: '##' }))).toBe(100);
    expect(shapeProblems(shape({ pattern: '##' }), 60)).toEqual([{ path: 'pattern', message: expect.stringContaining('only 100 distinct codes') }]);
    expect(shapeProblems(shape({ charset: 'A' }), 1).map((p) => p.path)).toEqual(['charset']);
    expect(shapeProblems(shape({ prefix: 'a b' }), 1).map((p) => p.path)).toEqual(['prefix']);
    expect(shapeProblems(shape({ pattern: 'FIXED' }), 1).map((p) => p.path)).toEqual(['pattern']);
    expect(shapeProblems(shape({ length: 3 }), 1).map((p) => p.path)).toEqual(['length']);
    expect(shapeProblems(shape(), 1000)).toEqual([]);
  });

  it('normalises and vets hand-written codes', () => {
    expect(normalizeCode(' welcome10 ')).toBe('WELCOME10');
    expect(codeProblem('WELCOME10')).toBeUndefined();
    expect(codeProblem('NO SPACES')).toMatch(/letters, digits/);
    expect(codeProblem('')).toMatch(/empty/);
    expect(resolveCharset('abca')).toBe('ABC');
  });
});
