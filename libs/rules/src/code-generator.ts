import { factSite, normalizerFor } from './evaluator';
import { IrNode, IrOf } from './ir';
import * as R from './runtime';
import { EvalContext } from './runtime';

/**
 * A generated matcher for a slice of a bucket's rules: pushes matched indexes to `m`, pending
 * ones to `c.q`. With `s`, only the rules whose `s[index]` is 1 run (re-running pending rules).
 */
export type ChunkFn = (c: EvalContext, m: number[], s?: Uint8Array) => void;

const ARITH = { '+': 'add', '-': 'sub', '*': 'mul', '/': 'div', '%': 'mod' } as const;
const FNS = { min: 'fnMin', max: 'fnMax', abs: 'fnAbs', floor: 'fnFloor', ceil: 'fnCeil', round: 'fnRound' } as const;
const CMP = { '==': 'eq', '!=': 'ne', '<': 'lt', '<=': 'le', '>': 'gt', '>=': 'ge', in: 'inList', 'not in': 'notInList', contains: 'contains', starts_with: 'startsWith', ends_with: 'endsWith' } as const;
const TO = { number: 'toNum', string: 'toStr', boolean: 'toBool', timestamp: 'toTs', duration: 'toDur', object: 'toObj' } as Record<string, string>;
const js = (v: unknown) => JSON.stringify(v);

/**
 * Generates one JavaScript function for a list of rule conditions, from the validated IR only:
 * literals are embedded through `JSON.stringify`, property names likewise, identifiers are our
 * own (`v0`, `o1`), and anything richer (sets, regexes, fact call sites) is passed in as a
 * constant. No user text is ever spliced into the source. Payload, event and user reads are
 * hoisted to the top of the function because they are cheap and side-effect free; computed facts
 * stay lazy so short-circuiting still decides which ones are fetched.
 */
export function generateChunk(rules: { index: number; when: IrNode }[]): ChunkFn {
  const g = new Gen();
  const body: string[] = [];
  for (const { index, when } of rules) {
    const cond = g.cond(when);
    // Only rules reading computed facts can be pending, so only they can be selected for a re-run.
    if (when.async) body.push(`if (s === undefined || s[${index}] === 1) { c.p = false; r = ${cond}; if (c.p) c.pend(${index}); else if (r) m.push(${index}); }`);
    else body.push(`if (s === undefined && ${cond}) m.push(${index});`);
  }
  const source = `"use strict";\nreturn function rules(c, m, s) {\nconst p = c.payload, u = c.user, NONE = R.NONE;\nlet r, t;\n${g.hoisted.join('\n')}\n${body.join('\n')}\n};`;
  // The one place code is compiled: the source above is built from checked IR only (see TSDoc).
  return new Function('R', 'K', source)(R, g.consts) as ChunkFn;
}

class Gen {
  readonly hoisted: string[] = [];
  readonly consts: unknown[] = [];
  private readonly names = new Map<string, string>();
  private n = 0;

  private konst(v: unknown): string {
    this.consts.push(v);
    return `K[${this.consts.length - 1}]`;
  }

  private prop(obj: string, key: string): string {
    // Names inherited from Object.prototype need a real own-property check; others cannot be
    // inherited by the plain objects events are made of, and a plain read is much faster.
    return key in Object.prototype ? `R.own(${obj}, ${js(key)})` : `${obj}[${js(key)}]`;
  }

  private hoist(key: string, expr: string, prefix = 'v'): string {
    let name = this.names.get(key);
    if (!name) {
      name = `${prefix}${this.n++}`;
      this.names.set(key, name);
      this.hoisted.push(`const ${name} = ${expr};`);
    }
    return name;
  }

  private read(n: IrOf<'payload'> | IrOf<'user'> | IrOf<'event'>): string {
    if (n.k === 'event') return this.hoist(`e:${n.field}`, `c.eventField(${js(n.field)})`);
    const to = TO[n.type];
    const wrap = (raw: string) => (to ? `R.${to}(${raw})` : `K_N(${raw})`.replace('K_N', this.konst(normalizerFor(n.type))));
    if (n.k === 'user') return this.hoist(`u:${n.attr}:${n.type}`, wrap(this.prop('u', n.attr)));
    let obj = 'p';
    for (let i = 0; i < n.path.length - 1; i++) {
      const key = `o:${n.path.slice(0, i + 1).join('.')}`;
      const parent = obj;
      obj = this.hoist(key, i === 0 ? `R.readObj(${this.prop(parent, n.path[i])})` : `${parent} === undefined ? undefined : R.readObj(${this.prop(parent, n.path[i])})`, 'o');
    }
    const last = n.path[n.path.length - 1];
    const raw = n.path.length === 1 ? this.prop('p', last) : `${obj} === undefined ? undefined : ${this.prop(obj, last)}`;
    return this.hoist(`p:${n.path.join('.')}:${n.type}`, n.path.length === 1 ? wrap(raw) : `${obj} === undefined ? undefined : ${wrap(this.prop(obj, last))}`);
  }

  /**
   * A constant-argument fact read, memoised in a local for the rest of the function so many
   * rules reading one fact cost one cache lookup. A read that left the rule pending is not
   * memoised: later rules must see the pending state themselves.
   */
  private factRead(n: IrOf<'fact'>): string {
    const key = `f:${n.constKey}`;
    let name = this.names.get(key);
    if (!name) {
      name = `f${this.n++}`;
      this.names.set(key, name);
      this.hoisted.push(`let ${name} = NONE;`);
      this.sites.set(name, this.konst(factSite(n)));
    }
    return `(${name} !== NONE ? ${name} : (t = c.fact(${this.sites.get(name)}), c.p ? t : (${name} = t)))`;
  }

  private readonly sites = new Map<string, string>();

  /** A JS expression for a value (normalised: `undefined` = missing). */
  value(n: IrNode): string {
    switch (n.k) {
      case 'lit':
        return Array.isArray(n.value) ? this.konst(n.value) : js(n.value);
      case 'list':
        return `[${n.items.map((i) => this.value(i)).join(', ')}]`;
      case 'payload':
      case 'user':
      case 'event':
        return this.read(n);
      case 'now':
        return 'c.now';
      case 'fact':
        if (n.constKey !== undefined) return this.factRead(n);
        return `c.factWith(${js(n.name)}, ${this.konst(n.params)}, [${n.params.map((p) => this.value(p.node)).join(', ')}], ${this.konst(normalizerFor(n.type))}, ${js(n.type)})`;
      case 'neg':
        return `R.neg(${this.value(n.arg)})`;
      case 'arith':
        return `R.${ARITH[n.op]}(${this.value(n.left)}, ${this.value(n.right)})`;
      case 'fn':
        return `R.${FNS[n.fn]}(${n.args.map((a) => this.value(a)).join(', ')})`;
      default:
        return this.cond(n);
    }
  }

  /** A JS expression that is strictly `true` or `false`. */
  cond(n: IrNode): string {
    switch (n.k) {
      case 'lit':
        return n.value === true ? 'true' : 'false';
      case 'cmp':
        return this.cmp(n);
      case 'exists': {
        const v = this.value(n.arg);
        return /^v\d+$/.test(v) ? `(${v} != null)` : `R.exists(${v})`;
      }
      case 'truthy':
        return `(${this.value(n.arg)} === true)`;
      case 'not':
        return `!${this.cond(n.arg)}`;
      case 'and':
      case 'or': {
        if (n.args.length === 0) return n.k === 'and' ? 'true' : 'false';
        const sep = n.k === 'and' ? ' && ' : ' || ';
        let out = this.cond(n.args[0]);
        for (let i = 1; i < n.args.length; i++) {
          // After a child that may leave a fact pending, stop before fetching anything else.
          const guard = n.args[i - 1].async ? '!c.p && ' : '';
          out += n.k === 'and' ? `${sep}${guard}${this.cond(n.args[i])}` : `${sep}(${guard}${this.cond(n.args[i])})`;
        }
        return `(${out})`;
      }
      default:
        return `(${this.value(n)} === true)`;
    }
  }

  private cmp(n: IrOf<'cmp'>): string {
    const l = this.value(n.left);
    if (n.op === 'matches') {
      const re = this.konst(n.regex);
      return /^v\d+$/.test(l) ? `(typeof ${l} === "string" && ${re}.test(${l}))` : `R.matches(${l}, ${re})`;
    }
    const simple = /^v\d+$/.test(l) && n.right.k === 'lit';
    if (simple) {
      const v = (n.right as IrOf<'lit'>).value;
      const lit = this.value(n.right);
      switch (n.op) {
        case '==':
          return `(${l} === ${lit})`;
        case '!=':
          return `(${l} !== undefined && ${l} !== ${lit})`;
        case '<':
        case '<=':
        case '>':
        case '>=':
          return `(typeof ${l} === ${js(typeof v)} && ${l} ${n.op} ${lit})`;
        case 'in':
          // Short lists compare directly: V8 compares internalised strings by pointer, far
          // cheaper than hashing into a Set.
          if ((v as unknown[]).length <= 12) return (v as unknown[]).length ? `(${(v as unknown[]).map((x) => `${l} === ${js(x)}`).join(' || ')})` : 'false';
          return `${this.konst(new Set(v as unknown[]))}.has(${l})`;
        case 'not in':
          if ((v as unknown[]).length <= 12) return `(${[`${l} !== undefined`, ...(v as unknown[]).map((x) => `${l} !== ${js(x)}`)].join(' && ')})`;
          return `(${l} !== undefined && !${this.konst(new Set(v as unknown[]))}.has(${l}))`;
        case 'starts_with':
          return `(typeof ${l} === "string" && ${l}.startsWith(${lit}))`;
        case 'ends_with':
          return `(typeof ${l} === "string" && ${l}.endsWith(${lit}))`;
        case 'contains':
          if (n.left.type === 'string') return `(typeof ${l} === "string" && ${l}.includes(${lit}))`;
      }
    }
    return `R.${CMP[n.op]}(${l}, ${this.value(n.right)})`;
  }
}
