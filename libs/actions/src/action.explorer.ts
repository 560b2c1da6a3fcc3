import { Injectable, Logger, Scope, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import { parseType } from '@arbiter/rules';
import { DEFAULT_DEFERRED_RETRY } from './actions.constants';
import type { ActionHandler, ActionOptions, RetryPolicy } from './action.interfaces';
import { ActionRegistry } from './action.registry';
import { Action } from './decorators/action.decorator';
import { ActionDiscoveryError } from './errors/action.error';

const NAME = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;
const PARAM = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Finds every `@Action` provider at boot and registers it. Strict on purpose: a duplicate name,
 * a class without `execute`, a request-scoped or transient class, or bad metadata throws an
 * {@link ActionDiscoveryError} naming the class, which stops the boot — a rule that names an
 * action must never find a half-registered one at run time.
 */
@Injectable()
export class ActionExplorer implements OnModuleInit {
  private readonly logger = new Logger('Actions');
  private explored = false;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly registry: ActionRegistry,
  ) {}

  onModuleInit(): void {
    this.explore();
  }

  /** Idempotent: whoever needs the registry first (this hook, the catalogue) triggers it. */
  explore(): void {
    if (this.explored) return;
    this.explored = true;
    const problems: string[] = [];
    const owners = new Map<string, string>();
    for (const wrapper of this.discovery.getProviders({ metadataKey: Action.KEY })) {
      const className = classNameOf(wrapper);
      const options = this.discovery.getMetadataByDecorator(Action, wrapper);
      const problem = (message: string) => problems.push(`${className}: ${message}`);
      if (!options || typeof options !== 'object') {
        problem('@Action() needs options ({ name, params?, mode?, retry? })');
        continue;
      }
      if (wrapper.scope === Scope.REQUEST || wrapper.scope === Scope.TRANSIENT || !wrapper.isDependencyTreeStatic()) {
        problem(`action "${options.name}" must be a singleton provider (request-scoped or transient actions are not supported: read the session from @arbiter/session instead)`);
        continue;
      }
      const instance = wrapper.instance as Partial<ActionHandler> | undefined;
      if (!instance || typeof instance.execute !== 'function') {
        problem(`action "${options.name}" does not implement ActionHandler (no execute(params, context) method)`);
        continue;
      }
      if (typeof options.name !== 'string' || !NAME.test(options.name)) {
        problem(`action name ${JSON.stringify(options.name)} is invalid (lower-case letters, digits, _ and dots)`);
        continue;
      }
      const previous = owners.get(options.name);
      if (previous) {
        problem(`action "${options.name}" is already registered by ${previous}`);
        continue;
      }
      const bad = validateOptions(options);
      if (bad.length) {
        bad.forEach(problem);
        continue;
      }
      owners.set(options.name, className);
      const mode = options.mode ?? 'inline';
      const refined = typeof instance.retryPolicy === 'function' ? instance.retryPolicy() : {};
      const retry: RetryPolicy = { ...DEFAULT_DEFERRED_RETRY, ...options.retry, ...refined };
      this.registry.register(
        Object.freeze({
          name: options.name,
          mode,
          params: Object.freeze({ ...(options.params ?? {}) }),
          retry: Object.freeze(retry),
          description: options.description,
          className,
          handler: instance as ActionHandler,
        }),
      );
    }
    if (problems.length) {
      throw new ActionDiscoveryError(`action discovery failed:\n  ${problems.join('\n  ')}`);
    }
    this.logger.log(`actions: ${this.registry.list().map((a) => `${a.name} (${a.mode})`).join(', ') || 'none'}`);
  }
}

function classNameOf(wrapper: InstanceWrapper): string {
  const metatype = wrapper.metatype as { name?: string } | undefined;
  return metatype?.name || String(wrapper.name);
}

function validateOptions(o: ActionOptions): string[] {
  const problems: string[] = [];
  if (o.mode !== undefined && o.mode !== 'inline' && o.mode !== 'deferred') problems.push(`mode must be "inline" or "deferred", found ${JSON.stringify(o.mode)}`);
  for (const [name, spec] of Object.entries(o.params ?? {})) {
    if (!PARAM.test(name)) problems.push(`param name ${JSON.stringify(name)} is invalid`);
    else if (!spec || parseType(spec.type, true) === undefined) problems.push(`param "${name}" has an invalid type ${JSON.stringify(spec?.type)}`);
  }
  const r = o.retry ?? {};
  if (r.attempts !== undefined && (!Number.isInteger(r.attempts) || r.attempts < 1 || r.attempts > 100)) problems.push('retry.attempts must be a whole number from 1 to 100');
  if (r.backoffMs !== undefined && (!Number.isInteger(r.backoffMs) || r.backoffMs < 0)) problems.push('retry.backoffMs must be a whole number of milliseconds');
  return problems;
}
