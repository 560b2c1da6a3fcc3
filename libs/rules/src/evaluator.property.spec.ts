// Property tests: on random condition trees and random events, the compiled evaluator (generated
// code), the interpreter (trace path) and a small reference interpreter written plainly below all
// agree; cost reordering, sync vs async facts and tree vs expression form never change an outcome.
import fc from 'fast-check';
import { Catalogue } from './catalogue';
import { ConditionTree } from './rule-compiler';
import { compileRules, EvalResult } from './rule-set';
import { FactResolver, RuleEvent } from './runtime';

const cat: Catalogue = {
  events: { t: { a: 'number', b: 'number', s: 'string', flag: 'boolean', tags: 'list<string>' } },
  user: { tier: 'string' },
  facts: [
    { name: 'f1', type: 'number', cost: 50, async: true },
    { name: 'f2', type: 'number', params: [{ name: 'k', type: 'number' }], cost: 5 },
  ],
};

// ---- the generated workload -----------------------------------------------------------------

type Leaf =
  | { kind: 'cmp'; fact: 'payload.a' | 'payload.b' | 'f1' | 'f2'; k?: number; op: '==' | '!=' | '<' | '<=' | '>' | '>='; value: number | null }
  | { kind: 'set'; fact: 'payload.a' | 'payload.s' | 'user.tier'; op: 'in' | 'not in'; value: (number | string)[] }
  | { kind: 'str'; op: '==' | '!=' | 'starts_with' | 'ends_with' | 'contains' | 'matches' | '<'; value: string }
  | { kind: 'flag'; form: 'truthy' | 'eq'; value: boolean }
  | { kind: 'tags'; value: string }
  | { kind: 'exists'; fact: 'payload.a' | 'payload.s' | 'payload.flag' | 'payload.tags' }
  | { kind: 'sum'; value: number };
type Tree = { leaf: Leaf; expr: boolean } | { all: Tree[] } | { any: Tree[] } | { not: Tree };

const WORDS = ['x', 'xy', 'yx', 'gold', 'go', 'ld', 'silver'];
const small = fc.integer({ min: -3, max: 3 });
const leafArb: fc.Arbitrary<Leaf> = fc.oneof(
  fc.record({ kind: fc.constant('cmp' as const), fact: fc.constantFrom('payload.a' as const, 'payload.b' as const, 'f1' as const, 'f2' as const), k: small, op: fc.constantFrom('==' as const, '!=' as const, '<' as const, '<=' as const, '>' as const, '>=' as const), value: fc.oneof(small, fc.constant(null)) }).map((l) => (l.value === null && l.op !== '==' && l.op !== '!=' ? { ...l, value: 0 } : l)),
  fc.record({ kind: fc.constant('set' as const), fact: fc.constantFrom('payload.s' as const, 'user.tier' as const), op: fc.constantFrom('in' as const, 'not in' as const), value: fc.subarray(WORDS) }),
  fc.record({ kind: fc.constant('set' as const), fact: fc.constant('payload.a' as const), op: fc.constantFrom('in' as const, 'not in' as const), value: fc.array(small, { maxLength: 4 }) }),
  fc.record({ kind: fc.constant('str' as const), op: fc.constantFrom('==' as const, '!=' as const, 'starts_with' as const, 'ends_with' as const, 'contains' as const, 'matches' as const, '<' as const), value: fc.constantFrom(...WORDS) }),
  fc.record({ kind: fc.constant('flag' as const), form: fc.constantFrom('truthy' as const, 'eq' as const), value: fc.boolean() }),
  fc.record({ kind: fc.constant('tags' as const), value: fc.constantFrom(...WORDS) }),
  fc.record({ kind: fc.constant('exists' as const), fact: fc.constantFrom('payload.a' as const, 'payload.s' as const, 'payload.flag' as const, 'payload.tags' as const) }),
  fc.record({ kind: fc.constant('sum' as const), value: small }),
);

const treeArb: fc.Arbitrary<Tree> = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ leaf: leafArb, expr: fc.boolean() }),
    fc.record({ all: fc.array(tie('tree'), { maxLength: 4 }) }),
    fc.record({ any: fc.array(tie('tree'), { maxLength: 4 }) }),
    fc.record({ not: tie('tree') }),
  ),
})).tree;

const valueArb = (valid: fc.Arbitrary<unknown>) => fc.oneof(valid, valid, fc.constant(null), fc.constant(undefined), fc.constantFrom('2', 2, true, [] as unknown[]));
const eventArb = fc.record({
  payload: fc.record({ a: valueArb(small), b: valueArb(small), s: valueArb(fc.constantFrom(...WORDS)), flag: valueArb(fc.boolean()), tags: valueArb(fc.subarray(WORDS)) }),
  tier: valueArb(fc.constantFrom(...WORDS)),
  f1: fc.oneof(small, fc.constant('boom'), fc.constant(undefined)),
});
type GenEvent = { payload: Record<string, unknown>; tier: unknown; f1: unknown };

// ---- rendering to rule documents ------------------------------------------------------------

const lit = (v: unknown) => JSON.stringify(v);
function leafSource(l: Leaf): { fact: string; op: string; value?: unknown; expr: string } {
  switch (l.kind) {
    case 'cmp': {
      const fact = l.fact === 'f2' ? `f2(k: ${l.k})` : l.fact;
      return { fact, op: l.op, value: l.value, expr: `${fact} ${l.op} ${lit(l.value)}` };
    }
    case 'set':
      return { fact: l.fact, op: l.op, value: l.value, expr: `${l.fact} ${l.op} ${lit(l.value)}` };
    case 'str':
      return { fact: 'payload.s', op: l.op, value: l.value, expr: `payload.s ${l.op} ${lit(l.value)}` };
    case 'flag':
      return l.form === 'truthy' ? { fact: 'payload.flag', op: '==', value: true, expr: 'payload.flag' } : { fact: 'payload.flag', op: '==', value: l.value, expr: `payload.flag == ${l.value}` };
    case 'tags':
      return { fact: 'payload.tags', op: 'contains', value: l.value, expr: `payload.tags contains ${lit(l.value)}` };
    case 'exists':
      return { fact: l.fact, op: 'exists', expr: `exists ${l.fact}` };
    case 'sum':
      return { fact: 'payload.a + payload.b', op: '>', value: l.value, expr: `payload.a + payload.b > ${l.value}` };
  }
}

function toCondition(t: Tree): ConditionTree {
  if ('leaf' in t) {
    const s = leafSource(t.leaf);
    if (t.expr || (t.leaf.kind === 'flag' && t.leaf.form === 'truthy')) return { expr: s.expr };
    return s.op === 'exists' ? { fact: s.fact, op: 'exists' } : { fact: s.fact, op: s.op, value: s.value };
  }
  if ('all' in t) return { all: t.all.map(toCondition) };
  if ('any' in t) return { any: t.any.map(toCondition) };
  return { not: toCondition(t.not) };
}

// ---- the reference interpreter, written plainly --------------------------------------------

const TYPES: Record<string, string> = { a: 'number', b: 'number', s: 'string', flag: 'boolean', tags: 'list', tier: 'string', f1: 'number', f2: 'number' };
function typed(v: unknown, type: string): unknown {
  if (v === null) return null;
  if (type === 'list') return Array.isArray(v) ? v : undefined;
  return typeof v === type ? v : undefined;
}
function read(fact: string, e: GenEvent, k?: number): unknown {
  if (fact.startsWith('payload.')) {
    const name = fact.slice(8);
    return Object.prototype.hasOwnProperty.call(e.payload, name) ? typed(e.payload[name], TYPES[name]) : undefined;
  }
  if (fact === 'user.tier') return typed(e.tier, 'string');
  if (fact === 'f1') return typed(e.f1, 'number');
  if (fact === 'f2') return typed(e.payload.a, 'number') === undefined ? k : (k as number) * 2;
  throw new Error(fact);
}
function reference(t: Tree, e: GenEvent): boolean {
  if ('all' in t) return t.all.every((c) => reference(c, e));
  if ('any' in t) return t.any.some((c) => reference(c, e));
  if ('not' in t) return !reference(t.not, e);
  const l = t.leaf;
  switch (l.kind) {
    case 'cmp': {
      const a = read(l.fact, e, l.k);
      const b = l.value;
      if (a === undefined) return false;
      if (l.op === '==') return a === b;
      if (l.op === '!=') return a !== b;
      if (typeof a !== 'number' || typeof b !== 'number') return false;
      return l.op === '<' ? a < b : l.op === '<=' ? a <= b : l.op === '>' ? a > b : a >= b;
    }
    case 'set': {
      const a = read(l.fact, e);
      if (a === undefined) return false;
      return l.op === 'in' ? (l.value as unknown[]).includes(a) : !(l.value as unknown[]).includes(a);
    }
    case 'str': {
      const a = read('payload.s', e);
      if (a === undefined) return false;
      if (l.op === '==') return a === l.value;
      if (l.op === '!=') return a !== l.value;
      if (typeof a !== 'string') return false;
      if (l.op === 'starts_with') return a.startsWith(l.value);
      if (l.op === 'ends_with') return a.endsWith(l.value);
      if (l.op === 'contains') return a.includes(l.value);
      if (l.op === '<') return a < l.value;
      return new RegExp(l.value).test(a);
    }
    case 'flag': {
      const a = read('payload.flag', e);
      return l.form === 'truthy' ? a === true : a !== undefined && a === l.value;
    }
    case 'tags': {
      const a = read('payload.tags', e);
      return Array.isArray(a) && a.includes(l.value);
    }
    case 'exists': {
      const a = read(l.fact, e);
      return a !== undefined && a !== null;
    }
    case 'sum': {
      const a = read('payload.a', e);
      const b = read('payload.b', e);
      return typeof a === 'number' && typeof b === 'number' && a + b > l.value;
    }
  }
}

// ---- running Arbiter -------------------------------------------------------------------------

function toEvent(g: GenEvent, i: number): RuleEvent {
  const payload: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(g.payload)) if (v !== undefined) payload[k] = v;
  return { id: `e${i}`, type: 't', user_id: 'u', occurred_at: 0, payload };
}
function resolver(g: GenEvent, mode: 'sync' | 'async'): FactResolver {
  return {
    resolve(fact, args) {
      let v: unknown;
      if (fact === 'f1') {
        if (g.f1 === 'boom') {
          if (mode === 'sync') throw new Error('boom');
          return Promise.reject(new Error('boom'));
        }
        v = g.f1;
      } else v = typed(g.payload.a, 'number') === undefined ? args.k : (args.k as number) * 2;
      return mode === 'sync' ? v : Promise.resolve(v);
    },
  };
}
async function matchedIds(r: EvalResult | Promise<EvalResult>): Promise<string[]> {
  return (await r).matches.map((m) => m.ruleId).sort();
}

describe('compiled evaluation (property-based)', () => {
  it('agrees with the reference interpreter, in every mode, on random trees and events', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(treeArb, { minLength: 1, maxLength: 8 }), fc.array(eventArb, { minLength: 1, maxLength: 6 }), async (trees, events) => {
        const doc = { rules: trees.map((t, i) => ({ id: `r${i}`, domain: 'd', on: 't', when: toCondition(t) })) };
        const compiled = compileRules(doc, cat);
        const unordered = compileRules(doc, cat, { reorder: false });
        if (!compiled.ok) throw new Error(compiled.errors.map(String).join('\n'));
        if (!unordered.ok) throw new Error('did not compile');
        for (let i = 0; i < events.length; i++) {
          const g = events[i] as GenEvent;
          const e = toEvent(g, i);
          const expected = trees.flatMap((t, k) => (reference(t, g) ? [`r${k}`] : [])).sort();
          const user = g.tier === undefined ? {} : { tier: g.tier };
          const syncResult = compiled.value.evaluate(e, { resolver: resolver(g, 'sync'), user });
          expect(syncResult).not.toBeInstanceOf(Promise);
          expect(await matchedIds(syncResult)).toEqual(expected);
          expect(await matchedIds(compiled.value.evaluate(e, { resolver: resolver(g, 'async'), user }))).toEqual(expected);
          expect(await matchedIds(unordered.value.evaluate(e, { resolver: resolver(g, 'async'), user }))).toEqual(expected);
          expect(await matchedIds(compiled.value.evaluate(e, { resolver: resolver(g, 'sync'), user, trace: true }))).toEqual(expected);
          const traced = await compiled.value.evaluate(e, { resolver: resolver(g, 'async'), user, trace: true });
          expect(traced.traces!.filter((t) => t.matched).map((t) => t.ruleId).sort()).toEqual(expected);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('compiles the tree form and the expression form of a leaf to the same outcome', async () => {
    await fc.assert(
      fc.asyncProperty(leafArb, eventArb, async (leaf, g) => {
        const doc = { rules: [{ id: 'tree', domain: 'd', on: 't', when: toCondition({ leaf, expr: false }) }, { id: 'expr', domain: 'd', on: 't', when: toCondition({ leaf, expr: true }) }] };
        const compiled = compileRules(doc, cat);
        if (!compiled.ok) throw new Error(compiled.errors.map(String).join('\n'));
        const ids = await matchedIds(compiled.value.evaluate(toEvent(g as GenEvent, 0), { resolver: resolver(g as GenEvent, 'sync'), user: { tier: (g as GenEvent).tier } }));
        expect(ids.includes('tree')).toBe(ids.includes('expr'));
      }),
      { numRuns: 300 },
    );
  });

  it('fetches async facts only when a leaf needs them: a rule decided by payload leaves fetches nothing', async () => {
    await fc.assert(
      fc.asyncProperty(eventArb, async (g) => {
        const calls: string[] = [];
        const doc = { rules: [{ id: 'r', domain: 'd', on: 't', when: { all: ['payload.a > 100', 'f1 > 0'] } }] };
        const compiled = compileRules(doc, cat);
        if (!compiled.ok) throw new Error('did not compile');
        await compiled.value.evaluate(toEvent(g as GenEvent, 0), { resolver: { resolve: (f) => (calls.push(f), Promise.resolve(1)) } });
        expect(calls).toEqual([]);
      }),
      { numRuns: 50 },
    );
  });
});
