import { nestsDeeper, parseJsonBody, storableText } from './json-body.parser';

const problems = (text: string, maxDepth?: number) => {
  try {
    parseJsonBody(text, maxDepth);
    return undefined;
  } catch (err) {
    return (err as { status: number; code: string; details?: { errors: { path: string }[] } });
  }
};

describe('parseJsonBody', () => {
  it('parses plain bodies as JSON.parse does', () => {
    const doc = { a: [1, { b: 'c\u00e9 \ud83d\ude00' }], d: null };
    expect(parseJsonBody(JSON.stringify(doc))).toEqual(doc);
    expect(parseJsonBody('{"e":"\\u00e9 \\ud83d\\ude00"}')).toEqual({ e: '\u00e9 \ud83d\ude00' });
  });

  it('lists the path of every NUL character and lone surrogate, in values and keys', () => {
    const err = problems('{"events":[{"user_id":"u\\u0000"},{"data":{"note":["ok","\\ud800"]}},2,3,4,5,6,7,8,9,{"x":"\\u0000"}],"k\\udc00":1}');
    expect(err).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    // In document order: events[10] after events[1].
    expect(err!.details!.errors.map((e) => e.path)).toEqual(['events[0].user_id', 'events[1].data.note[1]', 'events[10].x', 'k\udc00']);
  });

  it('refuses nesting deeper than its limit, brackets inside strings not counting', () => {
    expect(problems(`${'['.repeat(5)}1${']'.repeat(5)}`, 4)).toMatchObject({ status: 400, details: { errors: [{ path: '(body)', message: 'nests deeper than 4 levels' }] } });
    expect(parseJsonBody('[[[["[[[[[[\\"[[[", "]]]]"]]]]', 4)).toEqual([[[['[[[[[["[[[', ']]]]']]]]);
    expect(problems('[[[1]]]', 3)).toBeUndefined();
  });

  it('still refuses a prototype key and says what is wrong with invalid JSON', () => {
    expect(problems('{"__proto__":{"x":1}}')).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    expect(problems('{"a":')).toMatchObject({ status: 400, code: 'INVALID_JSON' });
  });
});

describe('nestsDeeper and storableText', () => {
  it('skip escaped quotes and count only structure', () => {
    expect(nestsDeeper('{"a":"\\\\"}', 1)).toBe(false);
    expect(nestsDeeper('{"a":"\\\\","b":[[1]]}', 2)).toBe(true);
    expect(nestsDeeper('{"a":"\\"{[{["}', 1)).toBe(false);
  });

  it('tell text PostgreSQL can store', () => {
    expect(['plain', 'caf\u00e9', '\ud83d\ude00', ''].map(storableText)).toEqual([true, true, true, true]);
    expect(['a\u0000b', '\ud800', 'x\udc00', '\ude00\ud83d'].map(storableText)).toEqual([false, false, false, false]);
  });
});
