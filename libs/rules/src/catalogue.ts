import { CompileError } from './errors/compile.error';
import { parseType, RuleType, TypeSpec } from './types';

/** One parameter of a computed fact; the resolver receives arguments keyed by `name`. */
export interface FactParam {
  name: string;
  type: TypeSpec;
  optional?: boolean;
}

/**
 * A computed fact the caller can resolve: `events_count`, `fraud.score`, `segment.member`.
 * A name containing a dot is still one fact (never a payload path). `cost` orders leaves inside
 * `all`/`any` (cheaper first); `async` says the resolver may return a Promise for it.
 */
export interface FactDefinition {
  name: string;
  type: TypeSpec;
  params?: FactParam[];
  cost?: number;
  async?: boolean;
  description?: string;
}

/** An action a rule may name in `then`, with its typed params. */
export interface ActionDefinition {
  name: string;
  params?: Record<string, { type: TypeSpec; required?: boolean }>;
}

/**
 * Payload fields of one event type. Values are type specs or nested schemas; an object whose only
 * key is `list` is read as the list type `{ list: T }`, any other object as a nested schema.
 */
export interface PayloadSchema {
  [field: string]: TypeSpec | PayloadSchema;
}

/**
 * Everything the compiler needs to type rules, supplied by the caller: payload schemas per event
 * type, the user-attribute schema, the computed facts and the actions. The rules lib never
 * discovers facts itself; the facts and actions libs build this from their registries.
 */
export interface Catalogue {
  events?: Record<string, PayloadSchema>;
  user?: Record<string, TypeSpec>;
  facts?: FactDefinition[];
  actions?: ActionDefinition[];
}

export interface IndexedFact {
  name: string;
  type: RuleType;
  params: { name: string; type: RuleType; optional: boolean }[];
  cost: number;
  async: boolean;
}

export interface IndexedAction {
  name: string;
  params: Map<string, { type: RuleType; required: boolean }>;
}

/** The catalogue checked once and turned into lookup maps; built by {@link indexCatalogue}. */
export interface IndexedCatalogue {
  /** event type -> dotted payload path (without `payload.`) -> type; objects have type `object`. */
  events: Map<string, Map<string, RuleType>>;
  user: Map<string, RuleType>;
  facts: Map<string, IndexedFact>;
  actions: Map<string, IndexedAction>;
}

export const EVENT_FIELDS: ReadonlyMap<string, RuleType> = new Map([
  ['id', 'string'],
  ['type', 'string'],
  ['source', 'string'],
  ['user_id', 'string'],
  ['occurred_at', 'timestamp'],
]);

export const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);
const SEGMENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

const cache = new WeakMap<Catalogue, { index: IndexedCatalogue; errors: CompileError[] }>();

/** Validates and indexes a catalogue; the result is cached per catalogue object. */
export function indexCatalogue(catalogue: Catalogue): { index: IndexedCatalogue; errors: CompileError[] } {
  const hit = cache.get(catalogue);
  if (hit) return hit;
  const errors: CompileError[] = [];
  const bad = (path: string, message: string) => errors.push(new CompileError({ code: 'INVALID_CATALOGUE', ruleId: '', path, message }));
  const index: IndexedCatalogue = { events: new Map(), user: new Map(), facts: new Map(), actions: new Map() };

  for (const [type, schema] of Object.entries(catalogue.events ?? {})) {
    const fields = new Map<string, RuleType>();
    const walk = (obj: PayloadSchema, prefix: string, depth: number) => {
      if (depth > 32) return bad(`catalogue.events.${type}.${prefix}`, 'payload schema nests deeper than 32 levels');
      for (const [name, spec] of Object.entries(obj)) {
        const path = prefix ? `${prefix}.${name}` : name;
        if (!SEGMENT.test(name) || FORBIDDEN_SEGMENTS.has(name)) {
          bad(`catalogue.events.${type}.${path}`, `payload field name "${name}" is not allowed`);
          continue;
        }
        const t = parseType(spec);
        if (t) fields.set(path, t);
        else if (typeof spec === 'object' && spec !== null && !Array.isArray(spec)) {
          fields.set(path, 'object');
          walk(spec as PayloadSchema, path, depth + 1);
        } else bad(`catalogue.events.${type}.${path}`, `invalid type ${JSON.stringify(spec)}`);
      }
    };
    if (typeof schema !== 'object' || schema === null) bad(`catalogue.events.${type}`, 'payload schema must be an object');
    else walk(schema, '', 0);
    index.events.set(type, fields);
  }
  for (const [name, spec] of Object.entries(catalogue.user ?? {})) {
    const t = parseType(spec);
    if (!SEGMENT.test(name) || FORBIDDEN_SEGMENTS.has(name)) bad(`catalogue.user.${name}`, `user attribute name "${name}" is not allowed`);
    else if (!t) bad(`catalogue.user.${name}`, `invalid type ${JSON.stringify(spec)}`);
    else index.user.set(name, t);
  }
  (catalogue.facts ?? []).forEach((f, i) => {
    const path = `catalogue.facts[${i}]`;
    const type = parseType(f?.type);
    const segments = typeof f?.name === 'string' ? f.name.split('.') : [];
    if (!segments.length || !segments.every((s) => SEGMENT.test(s) && !FORBIDDEN_SEGMENTS.has(s))) return bad(path, `invalid fact name ${JSON.stringify(f?.name)}`);
    if (['payload', 'event', 'user', 'now'].includes(segments[0])) return bad(path, `fact name "${f.name}" uses a reserved prefix`);
    if (!type) return bad(path, `invalid type ${JSON.stringify(f.type)} for fact "${f.name}"`);
    if (index.facts.has(f.name)) return bad(path, `duplicate fact "${f.name}"`);
    const params: IndexedFact['params'] = [];
    for (const p of f.params ?? []) {
      const pt = parseType(p.type);
      if (!pt || !SEGMENT.test(p.name)) bad(path, `invalid param ${JSON.stringify(p)} for fact "${f.name}"`);
      else params.push({ name: p.name, type: pt, optional: p.optional === true });
    }
    const cost = typeof f.cost === 'number' && Number.isFinite(f.cost) && f.cost >= 0 ? f.cost : 1;
    index.facts.set(f.name, { name: f.name, type, params, cost, async: f.async === true });
  });
  (catalogue.actions ?? []).forEach((a, i) => {
    const path = `catalogue.actions[${i}]`;
    if (typeof a?.name !== 'string' || !a.name) return bad(path, 'action without a name');
    if (index.actions.has(a.name)) return bad(path, `duplicate action "${a.name}"`);
    const params = new Map<string, { type: RuleType; required: boolean }>();
    for (const [name, p] of Object.entries(a.params ?? {})) {
      const t = parseType(p?.type, true);
      if (!t) bad(`${path}.params.${name}`, `invalid type ${JSON.stringify(p?.type)}`);
      else params.set(name, { type: t, required: p.required === true });
    }
    index.actions.set(a.name, { name: a.name, params });
  });
  const result = { index, errors };
  cache.set(catalogue, result);
  return result;
}
