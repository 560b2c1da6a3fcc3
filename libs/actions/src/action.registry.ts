import { Injectable } from '@nestjs/common';
import type { ActionDefinition } from '@arbiter/rules';
import type { RegisteredAction } from './action.interfaces';

/**
 * Every action the application knows, by name; filled once at boot by the actions explorer and
 * read-only afterwards. The rule compiler sees it through {@link ActionRegistry.definitions} (the
 * `actions` part of the rules catalogue), the executor through {@link ActionRegistry.get}.
 */
@Injectable()
export class ActionRegistry {
  private readonly actions = new Map<string, RegisteredAction>();
  private frozen?: readonly ActionDefinition[];

  /** Called by the explorer only; a second registration of a name is a discovery error upstream. */
  register(action: RegisteredAction): void {
    this.actions.set(action.name, action);
    this.frozen = undefined;
  }

  has(name: string): boolean {
    return this.actions.has(name);
  }

  get(name: string): RegisteredAction | undefined {
    return this.actions.get(name);
  }

  list(): RegisteredAction[] {
    return [...this.actions.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The actions part of the rules catalogue: names and typed params. */
  definitions(): readonly ActionDefinition[] {
    this.frozen ??= Object.freeze(
      this.list().map((a) => ({
        name: a.name,
        params: Object.fromEntries(Object.entries(a.params).map(([p, spec]) => [p, { type: spec.type, required: spec.required === true }])),
      })),
    );
    return this.frozen;
  }
}
