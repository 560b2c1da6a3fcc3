import { Injectable } from '@nestjs/common';
import { parseDuration, parseTimestamp, parseType, type FactDefinition, type RuleType } from '@arbiter/rules';
import type { FactContext } from '../decorators/fact.decorator';
import type { RawArg } from './call-syntax';

/** A discovered computed fact, ready to be invoked. */
export interface RegisteredFact {
  readonly definition: FactDefinition;
  readonly type: RuleType;
  readonly params: readonly { name: string; type: RuleType; optional: boolean }[];
  readonly cache: 'session' | 'none';
  readonly timeoutMs?: number;
  readonly hasFallback: boolean;
  readonly fallback?: unknown;
  /** `Class.method`, for messages. */
  readonly owner: string;
  readonly invoke: (args: Record<string, unknown>, ctx: FactContext) => unknown;
}

/** An alias: a parameterless fact name standing for a registered fact with fixed arguments. */
export interface RegisteredAlias {
  readonly definition: FactDefinition;
  readonly target: RegisteredFact;
  readonly args: Readonly<Record<string, unknown>>;
  readonly text: string;
}

/**
 * Every computed fact and alias the process knows, filled once at boot by the explorer. Read by
 * the resolver (to invoke) and the catalogue (to type-check rules).
 */
@Injectable()
export class FactRegistry {
  private readonly facts = new Map<string, RegisteredFact>();
  private readonly aliases = new Map<string, RegisteredAlias>();
  private version = 0;

  add(fact: RegisteredFact): void {
    this.facts.set(fact.definition.name, fact);
    this.version++;
  }

  addAlias(alias: RegisteredAlias): void {
    this.aliases.set(alias.definition.name, alias);
    this.version++;
  }

  /** A fact or alias by name: what to invoke and with which fixed arguments. */
  lookup(name: string): { fact: RegisteredFact; fixed?: Readonly<Record<string, unknown>> } | undefined {
    const fact = this.facts.get(name);
    if (fact) return { fact };
    const alias = this.aliases.get(name);
    return alias ? { fact: alias.target, fixed: alias.args } : undefined;
  }

  fact(name: string): RegisteredFact | undefined {
    return this.facts.get(name);
  }

  has(name: string): boolean {
    return this.facts.has(name) || this.aliases.has(name);
  }

  names(): string[] {
    return [...this.facts.keys(), ...this.aliases.keys()].sort();
  }

  /** Facts then aliases, as rules catalogue definitions. */
  definitions(): FactDefinition[] {
    return [...[...this.facts.values()].map((f) => f.definition), ...[...this.aliases.values()].map((a) => a.definition)];
  }

  /** Changes whenever a fact or alias is added (the catalogue rebuilds on change). */
  get revision(): number {
    return this.version;
  }
}

/**
 * Turns parsed call arguments into the values a fact receives, checked against its parameters:
 * durations become milliseconds (`30d`), timestamps epoch milliseconds. Pushes one problem per
 * unknown, missing or mistyped argument.
 */
export function coerceArgs(fact: RegisteredFact, raw: Readonly<Record<string, RawArg>>, where: string, problems: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const known = new Set(fact.params.map((p) => p.name));
  for (const name of Object.keys(raw)) if (!known.has(name)) problems.push(`${where}: "${fact.definition.name}" has no parameter "${name}" (parameters: ${[...known].join(', ') || 'none'})`);
  for (const p of fact.params) {
    const a = raw[p.name];
    if (a === undefined) {
      if (!p.optional) problems.push(`${where}: missing parameter "${p.name}" (${p.type}) of "${fact.definition.name}"`);
      continue;
    }
    const value = coerce(p.type, a);
    if (value === undefined) problems.push(`${where}: parameter "${p.name}" of "${fact.definition.name}" must be ${p.type}, got ${a.kind === 'string' ? JSON.stringify(a.value) : String(a.value)}`);
    else out[p.name] = value;
  }
  return out;
}

function coerce(type: RuleType, a: RawArg): unknown {
  switch (type) {
    case 'string':
      return a.kind === 'string' ? a.value : undefined;
    case 'number':
      return a.kind === 'number' ? a.value : undefined;
    case 'boolean':
      return a.kind === 'boolean' ? a.value : undefined;
    case 'duration':
      return a.kind === 'word' || a.kind === 'string' ? parseDuration(a.value) : a.kind === 'number' ? a.value : undefined;
    case 'timestamp':
      return a.kind === 'word' || a.kind === 'string' ? parseTimestamp(a.value) : a.kind === 'number' ? a.value : undefined;
    default:
      return undefined;
  }
}

export { parseType };
