export const DEFAULT_MAX_REGEX_LENGTH = 256;

/**
 * Vets a user-supplied regex before it is compiled. Returns a reason when the pattern is refused,
 * `undefined` when it is acceptable. The check is deliberately conservative: any repeated group
 * that itself contains a quantifier or an alternation (`(a+)+`, `(a|a)*`, `(?:x*y)*`) is refused,
 * as are backreferences, because those are the shapes that backtrack exponentially; linear
 * patterns such as `^[a-z]+@[a-z]+\.com$` pass.
 */
export function vetRegex(pattern: string, maxLength = DEFAULT_MAX_REGEX_LENGTH): { reason: string; hint?: string } | undefined {
  if (pattern.length > maxLength) return { reason: `regex is ${pattern.length} characters, the limit is ${maxLength}` };
  const stack: { quantified: boolean; alternation: boolean }[] = [];
  let top = { quantified: false, alternation: false };
  let lastGroup: { quantified: boolean; alternation: boolean } | undefined;
  let i = 0;
  const quantifierAt = (j: number): { unbounded: boolean; length: number } | undefined => {
    const c = pattern[j];
    if (c === '*' || c === '+') return { unbounded: true, length: pattern[j + 1] === '?' ? 2 : 1 };
    if (c === '?') return { unbounded: false, length: pattern[j + 1] === '?' ? 2 : 1 };
    if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}\??/.exec(pattern.slice(j));
      if (!m) return undefined;
      const max = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]);
      return { unbounded: max > 10, length: m[0].length };
    }
    return undefined;
  };
  while (i < pattern.length) {
    const c = pattern[i];
    let atomEnd = i + 1;
    let group: typeof lastGroup;
    if (c === '\\') {
      const e = pattern[i + 1];
      if (e !== undefined && /[1-9]/.test(e)) return { reason: 'backreferences are not allowed in regexes' };
      if (e === 'k' && pattern[i + 2] === '<') return { reason: 'backreferences are not allowed in regexes' };
      atomEnd = i + 2;
    } else if (c === '[') {
      let j = i + 1;
      if (pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j += pattern[j] === '\\' ? 2 : 1;
      atomEnd = j + 1;
    } else if (c === '(') {
      stack.push(top);
      top = { quantified: false, alternation: false };
      i += pattern.startsWith('(?', i) ? (pattern.startsWith('(?<', i) && !/^\(\?<[=!]/.test(pattern.slice(i)) ? pattern.indexOf('>', i) + 1 - i : 3) : 1;
      continue;
    } else if (c === ')') {
      group = top;
      top = stack.pop() ?? { quantified: false, alternation: false };
      top.quantified ||= group.quantified;
      top.alternation ||= group.alternation;
    } else if (c === '|') {
      top.alternation = true;
      i++;
      continue;
    }
    const q = quantifierAt(atomEnd);
    if (q) {
      if (group && q.unbounded && (group.quantified || group.alternation)) {
        return { reason: 'regex can backtrack catastrophically (a repeated group contains a quantifier or an alternation)', hint: 'simplify the group, e.g. (a+)+ -> a+' };
      }
      top.quantified = true;
      atomEnd += q.length;
    }
    lastGroup = group;
    i = atomEnd;
  }
  void lastGroup;
  return undefined;
}
