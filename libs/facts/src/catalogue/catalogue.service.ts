import { Injectable } from '@nestjs/common';
import { ValidationError, type FieldProblem } from '@arbiter/platform';
import type { ActionDefinition, Catalogue, FactDefinition, PayloadSchema } from '@arbiter/rules';
import { FactsConfig } from '../config/facts-config';
import { FactExplorer } from '../registry/fact.explorer';
import { FactRegistry } from '../registry/fact.registry';
import { checkPayload } from '../schema/value-check';

/** What another lib adds to the catalogue (the actions lib adds its actions). */
export interface CatalogueContribution {
  actions?: ActionDefinition[];
  facts?: FactDefinition[];
  events?: Record<string, PayloadSchema>;
}

/**
 * Builds the rules {@link Catalogue} the compiler type-checks against: event types from
 * `events.yaml`, user attributes from `facts.yaml`, the discovered `@Fact` providers and aliases,
 * and whatever other libs contribute (actions). The result is cached and rebuilt only when
 * something changes, so the rules lib's own per-catalogue index cache keeps working.
 */
@Injectable()
export class CatalogueService {
  private readonly contributions = new Map<string, CatalogueContribution>();
  private cached?: { key: string; catalogue: Catalogue };
  private revision = 0;

  constructor(
    private readonly config: FactsConfig,
    private readonly registry: FactRegistry,
    private readonly explorer: FactExplorer,
  ) {}

  /** Adds or replaces one lib's contribution (by `source`, e.g. `actions`). */
  contribute(source: string, contribution: CatalogueContribution): void {
    this.contributions.set(source, contribution);
    this.revision++;
  }

  /** Shorthand for the actions lib: `contribute('actions', { actions })`. */
  addActions(actions: ActionDefinition[], source = 'actions'): void {
    const previous = this.contributions.get(source) ?? {};
    this.contribute(source, { ...previous, actions: [...(previous.actions ?? []), ...actions] });
  }

  /** The current catalogue (same object until something changes). */
  catalogue(): Catalogue {
    this.explorer.explore();
    const key = `${this.revision}:${this.registry.revision}`;
    if (this.cached?.key === key) return this.cached.catalogue;
    const events: Record<string, PayloadSchema> = { ...this.config.events };
    const facts: FactDefinition[] = this.registry.definitions();
    const actions: ActionDefinition[] = [];
    for (const c of this.contributions.values()) {
      Object.assign(events, c.events ?? {});
      facts.push(...(c.facts ?? []));
      actions.push(...(c.actions ?? []));
    }
    const catalogue: Catalogue = Object.freeze({ events, user: { ...this.config.attributeSpecs }, facts, actions });
    this.cached = { key, catalogue };
    return catalogue;
  }

  /** Whether `type` is a declared event type. */
  isDeclared(type: string): boolean {
    return this.config.eventSchemas.has(type);
  }

  /** Declared event types and their payload fields as written in `events.yaml`. */
  eventTypes(): Readonly<Record<string, PayloadSchema>> {
    return this.config.events;
  }

  /**
   * Declared payload fields with a value of the wrong type, as `{path: 'payload.amount', message}`.
   * Undeclared fields and undeclared event types are allowed (kept, invisible to rules); an empty
   * list means the payload is acceptable.
   */
  validatePayload(type: string, payload: unknown, path = 'payload'): FieldProblem[] {
    const schema = this.config.eventSchemas.get(type);
    const problems: FieldProblem[] = [];
    if (!schema) {
      if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) problems.push({ path, message: 'must be an object' });
      return problems;
    }
    checkPayload(schema, payload, path, problems);
    return problems;
  }

  /** Like {@link validatePayload}, throwing a 400 that lists every bad field. */
  assertPayload(type: string, payload: unknown, path = 'payload'): void {
    const problems = this.validatePayload(type, payload, path);
    if (problems.length) throw new ValidationError(problems);
  }
}
