import { vetRegex } from './regex-guard';

describe('vetRegex', () => {
  it.each(['^[a-z]+@[a-z]+\\.com$', '^\\d{3}-\\d{4}$', '(?:ab)+', '(foo|bar)', '^(?:[a-m]|[q-z])', '[(+*]+', 'a{2,5}', '(?<year>\\d{4})-\\d{2}', '(ab|cd){2}'])('accepts %s', (p) => {
    expect(vetRegex(p)).toBeUndefined();
  });

  it.each(['(a+)+', '(a*)*', '(a|a)*', '(a|ab)+$', '(?:x*y)*', '((ab)+c)+', '(a+){2,}', '(a?){20}', '(x+x+)+y'])('refuses %s as catastrophic', (p) => {
    expect(vetRegex(p)?.reason).toContain('backtrack catastrophically');
  });

  it('refuses backreferences', () => {
    expect(vetRegex('(a)\\1')?.reason).toContain('backreferences');
    expect(vetRegex('(?<x>a)\\k<x>')?.reason).toContain('backreferences');
  });

  it('refuses patterns over the length limit', () => {
    expect(vetRegex('a'.repeat(300))?.reason).toContain('the limit is 256');
    expect(vetRegex('a'.repeat(300), 1000)).toBeUndefined();
  });
});
