import { readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { parseType, type PayloadSchema, type RuleType, type TypeSpec } from '@arbiter/rules';
import { FactDeclarationError } from '../errors/fact.error';
import { parseFactCall, type FactCall } from '../registry/call-syntax';
import type { CompiledSchema } from '../schema/value-check';

/** An alias from `facts.yaml`: a fact name standing for a call with fixed arguments. */
export interface AliasDeclaration {
  readonly name: string;
  readonly text: string;
  readonly call: FactCall;
}

const SEGMENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED = new Set(['payload', 'event', 'user', 'now']);

/**
 * The YAML side of the fact catalogue, read once at boot from CONFIG_DIR: the user-attribute
 * schema and aliases (`facts.yaml`) and the event types (`events.yaml`). A missing file means an
 * empty section; a malformed one stops the boot with every problem listed, file and path named.
 */
export class FactsConfig {
  /** attribute name -> canonical type (`user.<name>` facts). */
  readonly attributes: ReadonlyMap<string, RuleType>;
  /** The attribute types as written, for the rules catalogue. */
  readonly attributeSpecs: Readonly<Record<string, TypeSpec>>;
  readonly aliases: readonly AliasDeclaration[];
  /** event type -> payload schema as written (for the rules catalogue). */
  readonly events: Readonly<Record<string, PayloadSchema>>;
  /** event type -> compiled schema (for payload validation). */
  readonly eventSchemas: ReadonlyMap<string, CompiledSchema>;

  constructor(values: Pick<FactsConfig, 'attributes' | 'attributeSpecs' | 'aliases' | 'events' | 'eventSchemas'>) {
    this.attributes = values.attributes;
    this.attributeSpecs = values.attributeSpecs;
    this.aliases = values.aliases;
    this.events = values.events;
    this.eventSchemas = values.eventSchemas;
  }

  /** Reads `facts.yaml` and `events.yaml` from `dir`. */
  static load(dir: string): FactsConfig {
    const problems: string[] = [];
    const facts = readYaml(join(dir, 'facts.yaml'), problems);
    const events = readYaml(join(dir, 'events.yaml'), problems);
    const config = FactsConfig.from(facts, events, problems);
    if (problems.length) throw new FactDeclarationError(problems);
    return config;
  }

  /** Builds the configuration from already-parsed documents; pushes every problem found. */
  static from(facts: unknown, events: unknown, problems: string[]): FactsConfig {
    const attributes = new Map<string, RuleType>();
    const attributeSpecs: Record<string, TypeSpec> = {};
    const aliases: AliasDeclaration[] = [];
    const f = asObject(facts ?? {}, 'facts.yaml', problems) ?? {};
    for (const key of Object.keys(f)) if (key !== 'attributes' && key !== 'aliases') problems.push(`facts.yaml: unknown section "${key}" (expected attributes, aliases)`);
    for (const [name, spec] of Object.entries(asObject(f.attributes ?? {}, 'facts.yaml attributes', problems) ?? {})) {
      const type = parseType(spec);
      if (!SEGMENT.test(name)) problems.push(`facts.yaml attributes.${name}: attribute names use letters, digits and _`);
      else if (!type) problems.push(`facts.yaml attributes.${name}: unknown type ${JSON.stringify(spec)} (number, string, boolean, timestamp, duration, list<T>)`);
      else {
        attributes.set(name, type);
        attributeSpecs[name] = spec as TypeSpec;
      }
    }
    for (const [name, text] of Object.entries(asObject(f.aliases ?? {}, 'facts.yaml aliases', problems) ?? {})) {
      const where = `facts.yaml aliases.${name}`;
      if (!name.split('.').every((s) => SEGMENT.test(s)) || RESERVED.has(name.split('.')[0])) {
        problems.push(`${where}: invalid alias name (letters, digits, _ and dots; not payload/event/user/now)`);
        continue;
      }
      if (typeof text !== 'string') {
        problems.push(`${where}: must be a call such as events_count(type: "topup", within: 30d)`);
        continue;
      }
      try {
        aliases.push({ name, text, call: parseFactCall(text) });
      } catch (err) {
        problems.push(`${where}: ${(err as Error).message}`);
      }
    }

    const e = asObject(events ?? {}, 'events.yaml', problems) ?? {};
    for (const key of Object.keys(e)) if (key !== 'events') problems.push(`events.yaml: unknown section "${key}" (expected events)`);
    const declared: Record<string, PayloadSchema> = {};
    const eventSchemas = new Map<string, CompiledSchema>();
    for (const [type, schema] of Object.entries(asObject(e.events ?? {}, 'events.yaml events', problems) ?? {})) {
      if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(type)) {
        problems.push(`events.yaml events.${type}: event type names use letters, digits, _ . : - (at most 64)`);
        continue;
      }
      const compiled = compileSchema(schema ?? {}, `events.yaml events.${type}`, problems, 0);
      if (compiled) {
        declared[type] = (schema ?? {}) as PayloadSchema;
        eventSchemas.set(type, compiled);
      }
    }
    return new FactsConfig({ attributes, attributeSpecs, aliases, events: declared, eventSchemas });
  }
}

function compileSchema(schema: unknown, where: string, problems: string[], depth: number): CompiledSchema | undefined {
  const obj = asObject(schema, where, problems);
  if (!obj) return undefined;
  if (depth > 16) {
    problems.push(`${where}: nests deeper than 16 levels`);
    return undefined;
  }
  const out = new Map<string, RuleType | CompiledSchema>();
  for (const [field, spec] of Object.entries(obj)) {
    if (!SEGMENT.test(field)) {
      problems.push(`${where}.${field}: field names use letters, digits and _`);
      continue;
    }
    const type = parseType(spec);
    if (type) out.set(field, type);
    else if (typeof spec === 'object' && spec !== null && !Array.isArray(spec) && !('list' in spec)) {
      const inner = compileSchema(spec, `${where}.${field}`, problems, depth + 1);
      if (inner) out.set(field, inner);
    } else problems.push(`${where}.${field}: unknown type ${JSON.stringify(spec)} (number, string, boolean, timestamp, duration, list<T>, or nested fields)`);
  }
  return out;
}

function asObject(v: unknown, where: string, problems: string[]): Record<string, unknown> | undefined {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  problems.push(`${where}: must be a mapping`);
  return undefined;
}

function readYaml(path: string, problems: string[]): unknown {
  if (!existsSync(path)) return undefined;
  try {
    return parse(readFileSync(path, 'utf8'));
  } catch (err) {
    problems.push(`${resolve(path)}: ${(err as Error).message.split('\n')[0]}`);
    return undefined;
  }
}
