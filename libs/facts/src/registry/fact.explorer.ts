import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { parseType, type RuleType } from '@arbiter/rules';
import { FactsConfig } from '../config/facts-config';
import { Fact, type FactContext, type FactOptions } from '../decorators/fact.decorator';
import { FactDeclarationError } from '../errors/fact.error';
import { checkValue } from '../schema/value-check';
import { coerceArgs, FactRegistry, type RegisteredFact } from './fact.registry';

const SEGMENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED = new Set(['payload', 'event', 'user', 'now']);

/**
 * Finds every `@Fact` provider method (and `@Fact` class) at boot, checks each declaration and
 * fills the {@link FactRegistry}, then registers the aliases of `facts.yaml` against it. Strict:
 * every problem (duplicate name, bad type or parameter, request-scoped provider, alias to an
 * unknown fact) is collected and the boot stops with all of them, each naming its class and method.
 */
@Injectable()
export class FactExplorer implements OnModuleInit {
  private explored = false;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly registry: FactRegistry,
    private readonly config: FactsConfig,
  ) {}

  onModuleInit(): void {
    this.explore();
  }

  /** Idempotent: other libs may ask for the catalogue before this module's own init hook ran. */
  explore(): void {
    if (this.explored) return;
    this.explored = true;
    const problems: string[] = [];
    const owners = new Map<string, string>();
    const register = (options: FactOptions | undefined, owner: string, instance: object, method: unknown, isStatic: boolean) => {
      const fact = this.check(options, owner, problems);
      if (!fact) return;
      if (!isStatic) return void problems.push(`${owner}: facts must be on singleton providers, this one is request-scoped or transient (the session is on AsyncLocalStorage)`);
      if (typeof method !== 'function') return void problems.push(`${owner}: fact "${fact.name}" has no method to call (a @Fact class needs resolve(args, ctx))`);
      const previous = owners.get(fact.name);
      if (previous) return void problems.push(`${owner}: fact "${fact.name}" is already declared by ${previous}`);
      owners.set(fact.name, owner);
      const fn = method as (args: Record<string, unknown>, ctx: FactContext) => unknown;
      this.registry.add({ ...fact.entry, owner, invoke: (args, ctx) => fn.call(instance, args, ctx) });
    };

    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      const proto = wrapper.metatype && typeof wrapper.metatype === 'function' ? wrapper.metatype.prototype : undefined;
      if (!proto || !instance || typeof instance !== 'object') {
        // Request-scoped providers have no instance at boot; they are still checked below by metadata.
        if (proto && wrapper.metatype && !wrapper.isDependencyTreeStatic()) this.refuseScoped(wrapper.metatype as Function, proto, problems);
        continue;
      }
      const className = (wrapper.metatype as Function).name || String(wrapper.name);
      const isStatic = wrapper.isDependencyTreeStatic() && !wrapper.isTransient;
      const classOptions = this.discovery.getMetadataByDecorator(Fact, wrapper);
      if (classOptions) register(classOptions, `${className}.resolve`, instance, instance.resolve, isStatic);
      for (const methodName of this.scanner.getAllMethodNames(proto)) {
        const options = this.discovery.getMetadataByDecorator(Fact, wrapper, methodName);
        if (options) register(options, `${className}.${methodName}`, instance, instance[methodName], isStatic);
      }
    }

    for (const alias of this.config.aliases) {
      const where = `facts.yaml aliases.${alias.name}`;
      const target = this.registry.fact(alias.call.name);
      if (!target) {
        problems.push(`${where}: unknown fact "${alias.call.name}" (known: ${this.registry.names().join(', ')})`);
        continue;
      }
      if (owners.has(alias.name)) {
        problems.push(`${where}: the alias "${alias.name}" has the name of a fact declared by ${owners.get(alias.name)}`);
        continue;
      }
      const before = problems.length;
      const args = coerceArgs(target, alias.call.args, where, problems);
      if (problems.length > before) continue;
      this.registry.addAlias({
        definition: { ...target.definition, name: alias.name, params: [], description: `alias of ${alias.text}` },
        target,
        args,
        text: alias.text,
      });
    }
    if (problems.length) throw new FactDeclarationError(problems);
  }

  private refuseScoped(metatype: Function, proto: object, problems: string[]): void {
    for (const methodName of this.scanner.getAllMethodNames(proto)) {
      const method = (proto as Record<string, unknown>)[methodName];
      if (typeof method === 'function' && Reflect.getMetadata(Fact.KEY, method)) {
        problems.push(`${metatype.name}.${methodName}: facts must be on singleton providers, this one is request-scoped or transient (the session is on AsyncLocalStorage)`);
      }
    }
  }

  /** Checks one declaration; returns the registry entry (without the invoker) or pushes problems. */
  private check(options: FactOptions | undefined, owner: string, problems: string[]): { name: string; entry: Omit<RegisteredFact, 'owner' | 'invoke'> } | undefined {
    const bad = (message: string) => void problems.push(`${owner}: ${message}`);
    if (!options || typeof options !== 'object') return bad('@Fact needs options { name, type, ... }');
    const { name } = options;
    if (typeof name !== 'string' || !name.split('.').every((s) => SEGMENT.test(s))) return bad(`invalid fact name ${JSON.stringify(name)} (letters, digits, _ and dots)`);
    if (RESERVED.has(name.split('.')[0])) return bad(`fact name "${name}" uses a reserved prefix (payload, event, user, now)`);
    const type = parseType(options.type);
    if (!type) return bad(`fact "${name}" has an invalid type ${JSON.stringify(options.type)} (number, string, boolean, timestamp, duration, list<T>)`);
    const params: { name: string; type: RuleType; optional: boolean }[] = [];
    const before = problems.length;
    if (options.params !== undefined && !Array.isArray(options.params)) bad(`fact "${name}": params must be a list of { name, type, optional? }`);
    for (const p of Array.isArray(options.params) ? options.params : []) {
      const pt = parseType(p?.type);
      if (!p || typeof p.name !== 'string' || !SEGMENT.test(p.name)) bad(`fact "${name}": invalid parameter name ${JSON.stringify(p?.name)}`);
      else if (!pt) bad(`fact "${name}": parameter "${p.name}" has an invalid type ${JSON.stringify(p.type)}`);
      else if (params.some((q) => q.name === p.name)) bad(`fact "${name}": parameter "${p.name}" is declared twice`);
      else params.push({ name: p.name, type: pt, optional: p.optional === true });
    }
    if (options.cost !== undefined && !(typeof options.cost === 'number' && Number.isFinite(options.cost) && options.cost >= 0)) bad(`fact "${name}": cost must be a number >= 0`);
    if (options.cache !== undefined && options.cache !== 'session' && options.cache !== 'none') bad(`fact "${name}": cache must be "session" or "none"`);
    if (options.timeoutMs !== undefined && !(Number.isInteger(options.timeoutMs) && options.timeoutMs > 0)) bad(`fact "${name}": timeoutMs must be a whole number of milliseconds > 0`);
    const hasFallback = Object.hasOwn(options, 'fallback');
    if (hasFallback) {
      const fallbackProblems: { path: string; message: string }[] = [];
      checkValue(type, options.fallback, 'fallback', fallbackProblems);
      fallbackProblems.forEach((p) => bad(`fact "${name}": ${p.path} ${p.message}`));
    }
    if (problems.length > before) return undefined;
    return {
      name,
      entry: {
        definition: { name, type: options.type, params: params.map((p) => ({ name: p.name, type: p.type, optional: p.optional })), cost: options.cost ?? 10, async: true, description: options.description },
        type,
        params,
        cache: options.cache ?? 'session',
        timeoutMs: options.timeoutMs,
        hasFallback,
        fallback: options.fallback,
      },
    };
  }
}
