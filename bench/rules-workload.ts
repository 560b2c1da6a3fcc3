// Deterministic workload for bench/rules.bench.ts: rules, events and the three renderings of the
// same conditions (Arbiter documents, json-rules-engine rules, a plain JavaScript function).
import type { Catalogue, RuleDocument, RuleEvent, RuleSpec } from '@arbiter/rules';

export type Leaf =
  | { kind: 'num'; field: 'amount' | 'items' | 'age_days'; op: '>' | '<' | '>=' | '<='; value: number }
  | { kind: 'eq'; field: 'category' | 'channel'; value: string }
  | { kind: 'in'; field: 'country' | 'category'; values: string[] }
  | { kind: 'regex'; field: 'email'; pattern: string }
  | { kind: 'fact'; fact: 'velocity' | 'risk.score'; window?: '1h' | '24h'; op: '<' | '>'; value: number };

export interface BenchRule {
  id: string;
  on: string[];
  /** all of: leaves[0..3] plus any(leaves[4], leaves[5]); facts (async variant) come last in `all`. */
  all: Leaf[];
  any: Leaf[];
}

export const EVENT_TYPES = ['purchase', 'topup', 'refund', 'login'];
const CATEGORIES = ['food', 'drinks', 'toys', 'books', 'games', 'travel', 'music', 'sport'];
const COUNTRIES = ['FR', 'DE', 'US', 'GB', 'ES', 'IT', 'NL', 'PL'];
const CHANNELS = ['web', 'ios', 'android'];
const PATTERNS = ['^[a-p]', '@(gmail|proton)\\.com$', '^[a-z]+\\.[a-z]+@', '\\d', '^(?:[a-m]|[q-z])'];

/** mulberry32: tiny, seeded, good enough for workloads. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const sample = <T>(r: () => number, xs: readonly T[], n: number): T[] => [...xs].sort(() => r() - 0.5).slice(0, n);

function payloadLeaf(r: () => number): Leaf {
  const k = r();
  if (k < 0.35) {
    const field = pick(r, ['amount', 'items', 'age_days'] as const);
    const max = field === 'amount' ? 1000 : field === 'items' ? 20 : 365;
    const op = pick(r, ['>', '<', '>=', '<='] as const);
    const q = 0.1 + r() * 0.15;
    const value = Math.round((op === '>' || op === '>=' ? q : 1 - q) * max);
    return { kind: 'num', field, op, value };
  }
  if (k < 0.5) return { kind: 'eq', field: 'channel', value: pick(r, CHANNELS) };
  if (k < 0.85) {
    const field = pick(r, ['country', 'category'] as const);
    return { kind: 'in', field, values: sample(r, field === 'country' ? COUNTRIES : CATEGORIES, 5 + Math.floor(r() * 3)) };
  }
  return { kind: 'regex', field: 'email', pattern: pick(r, PATTERNS) };
}

export function generateRules(n: number, withFacts: boolean, seed = 42): BenchRule[] {
  const r = rng(seed + n * 7 + (withFacts ? 1 : 0));
  return Array.from({ length: n }, (_, i) => {
    const on = r() < 0.85 ? [pick(r, EVENT_TYPES)] : sample(r, EVENT_TYPES, 2);
    const all = Array.from({ length: withFacts ? 2 : 4 }, () => payloadLeaf(r));
    if (withFacts) {
      all.push({ kind: 'fact', fact: 'velocity', window: pick(r, ['1h', '24h'] as const), op: '<', value: 3 + Math.floor(r() * 6) });
      all.push({ kind: 'fact', fact: 'risk.score', op: '<', value: 40 + Math.floor(r() * 50) });
    }
    return { id: `rule-${String(i).padStart(4, '0')}`, on, all, any: [payloadLeaf(r), payloadLeaf(r)] };
  });
}

export function generateEvents(count: number, seed = 7): RuleEvent[] {
  const r = rng(seed);
  const names = ['alice', 'bob', 'carol', 'dave', 'erin', 'zoe', 'mallory', 'trent', 'x9'];
  return Array.from({ length: count }, (_, i) => ({
    id: `e${i}`,
    type: pick(r, EVENT_TYPES),
    user_id: `u${Math.floor(r() * 50)}`,
    occurred_at: 1_714_564_800_000 + i * 1000,
    payload: {
      amount: Math.round(r() * 100_000) / 100,
      items: Math.floor(r() * 20),
      age_days: Math.floor(r() * 365),
      category: pick(r, CATEGORIES),
      country: pick(r, COUNTRIES),
      channel: pick(r, CHANNELS),
      email: `${pick(r, names)}${r() < 0.2 ? Math.floor(r() * 9) : ''}@${pick(r, ['gmail.com', 'proton.com', 'corp.io'])}`,
    },
  }));
}

const PAYLOAD = { amount: 'number', items: 'number', age_days: 'number', category: 'string', country: 'string', channel: 'string', email: 'string' };

export const benchCatalogue: Catalogue = {
  events: Object.fromEntries(EVENT_TYPES.map((t) => [t, PAYLOAD])),
  facts: [
    { name: 'velocity', type: 'number', params: [{ name: 'window', type: 'string' }], cost: 10, async: true },
    { name: 'risk.score', type: 'number', cost: 20, async: true },
  ],
  actions: [{ name: 'flag', params: { rule: { type: 'string', required: true } } }],
};

/** The computed facts' values: a pure function of the event, so every engine sees the same. */
export function factValue(fact: string, window: string | undefined, event: RuleEvent): number {
  let h = 2166136261;
  const s = `${fact}|${window ?? ''}|${event.id}`;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return fact === 'velocity' ? (h >>> 0) % 10 : (h >>> 0) % 100;
}

/**
 * Per-event memoising resolver, shaped like a real session: the first read of a fact returns a
 * Promise, later reads of the same fact return the memoised value synchronously.
 */
export class SessionResolver {
  private readonly memo = new Map<string, unknown>();
  resolve(fact: string, args: Record<string, unknown>, event: RuleEvent): unknown {
    const key = args.window === undefined ? fact : `${fact}|${args.window as string}`;
    const hit = this.memo.get(key);
    if (hit !== undefined) return hit;
    const p = Promise.resolve(factValue(fact, args.window as string | undefined, event));
    this.memo.set(key, p);
    void p.then((v) => this.memo.set(key, v));
    return p;
  }
}

// --- Arbiter ---------------------------------------------------------------------------------

function arbiterLeaf(l: Leaf): object {
  switch (l.kind) {
    case 'num':
      return { fact: `payload.${l.field}`, op: l.op, value: l.value };
    case 'eq':
      return { fact: `payload.${l.field}`, op: '==', value: l.value };
    case 'in':
      return { fact: `payload.${l.field}`, op: 'in', value: l.values };
    case 'regex':
      return { fact: `payload.${l.field}`, op: 'matches', value: l.pattern };
    case 'fact':
      return l.window ? { fact: l.fact, params: { window: l.window }, op: l.op, value: l.value } : { fact: l.fact, op: l.op, value: l.value };
  }
}

export function toArbiter(rules: BenchRule[]): RuleDocument {
  return {
    rules: rules.map((r) => ({
      id: r.id,
      domain: 'bench',
      on: r.on,
      when: { all: [...r.all.map(arbiterLeaf), { any: r.any.map(arbiterLeaf) }] } as RuleSpec['when'],
      then: [{ action: 'flag', params: { rule: r.id } }],
    })),
  };
}

// --- json-rules-engine -------------------------------------------------------------------------

const JRE_OPS = { '>': 'greaterThan', '<': 'lessThan', '>=': 'greaterThanInclusive', '<=': 'lessThanInclusive' } as const;

function jreLeaf(l: Leaf): object {
  switch (l.kind) {
    case 'num':
      return { fact: l.field, operator: JRE_OPS[l.op], value: l.value };
    case 'eq':
      return { fact: l.field, operator: 'equal', value: l.value };
    case 'in':
      return { fact: l.field, operator: 'in', value: l.values };
    case 'regex':
      return { fact: l.field, operator: 'matches', value: l.pattern };
    case 'fact':
      return { fact: l.fact, operator: JRE_OPS[l.op], value: l.value, ...(l.window ? { params: { window: l.window } } : {}) };
  }
}

export function toJre(rules: BenchRule[]): Map<string, object[]> {
  // One engine per event type: json-rules-engine gets the same indexing by type that Arbiter does.
  const byType = new Map<string, object[]>(EVENT_TYPES.map((t) => [t, []]));
  for (const r of rules) {
    for (const t of r.on) byType.get(t)!.push({ name: r.id, conditions: { all: [...r.all.map(jreLeaf), { any: r.any.map(jreLeaf) }] }, event: { type: r.id } });
  }
  return byType;
}

// --- hand-written --------------------------------------------------------------------------------

function handLeaf(l: Leaf, async: boolean, regexes: string[]): string {
  const j = JSON.stringify;
  switch (l.kind) {
    case 'num':
      return `p.${l.field} ${l.op} ${l.value}`;
    case 'eq':
      return `p.${l.field} === ${j(l.value)}`;
    case 'in':
      return `(${l.values.map((v) => `p.${l.field} === ${j(v)}`).join(' || ')})`;
    case 'regex':
      if (!regexes.includes(l.pattern)) regexes.push(l.pattern);
      return `re${regexes.indexOf(l.pattern)}.test(p.${l.field})`;
    case 'fact':
      return `(${async ? 'await ' : ''}res.resolve(${j(l.fact)}, ${l.window ? `{ window: ${j(l.window)} }` : '{}'}, e)) ${l.op} ${l.value}`;
  }
}

/**
 * The conditions as a person would write them: a switch on the event type, then one `if` per
 * rule. Source text is produced here only because writing 1000 rules by hand is not practical;
 * the function it becomes is exactly the plain code a person would write.
 */
export function toHandWritten(rules: BenchRule[], async: boolean): (e: RuleEvent, res?: SessionResolver) => string[] | Promise<string[]> {
  const regexes: string[] = [];
  const cases = EVENT_TYPES.map((t) => {
    const body = rules
      .filter((r) => r.on.includes(t))
      .map((r) => `if (${[...r.all.map((l) => handLeaf(l, async, regexes)), `(${r.any.map((l) => handLeaf(l, async, regexes)).join(' || ')})`].join(' && ')}) m.push(${JSON.stringify(r.id)});`)
      .join('\n');
    return `case ${JSON.stringify(t)}: {\n${body}\nbreak;\n}`;
  });
  const consts = regexes.map((r, i) => `const re${i} = new RegExp(${JSON.stringify(r)});`).join('\n');
  const src = `${consts}\nreturn ${async ? 'async ' : ''}function handWritten(e, res) {\nconst p = e.payload;\nconst m = [];\nswitch (e.type) {\n${cases.join('\n')}\n}\nreturn m;\n};`;
  return new Function(src)() as (e: RuleEvent, res?: SessionResolver) => string[] | Promise<string[]>;
}
