import { irChildren, parseDuration, type Condition, type IrNode } from '@arbiter/rules';

/** Event types whose arrival can change a `segment.member(...)` fact. */
export const SEGMENT_EVENT_TYPES = ['segment.entered', 'segment.exited'] as const;

/** A windowed event-log fact the condition reads: an event of `type` counts for `withinMs` after it occurred. */
export interface WindowDependency {
  type: string;
  withinMs: number;
}

/**
 * What can change a segment's verdict for one user, derived once when the condition compiles:
 * the event types whose arrival may change it (`*` when a fact of unknown origin is read), whether
 * it reads user attributes, the time windows that make it expire on its own, and whether it reads
 * the clock directly (`now`), which no event announces.
 */
export interface SegmentTriggers {
  eventTypes: ReadonlySet<string>;
  userAttributes: readonly string[];
  windows: readonly WindowDependency[];
  usesNow: boolean;
}

/** Resolves an alias (`spend_30d`) to its fixed arguments; undefined for a plain fact. */
export type AliasArgs = (factName: string) => Readonly<Record<string, unknown>> | undefined;

/**
 * Walks the compiled condition's IR. For each computed fact it reads the constant arguments (or
 * the alias's fixed ones): a string `type` argument names the event type the fact counts (the
 * built-in `events_*` and `last_event_at` facts), a `within` argument its window. `segment.member`
 * changes only when a `segment.entered`/`segment.exited` event passes. Any other computed fact is
 * opaque: the segment is re-evaluated on every event type.
 */
export function segmentTriggers(condition: Condition, aliasArgs: AliasArgs): SegmentTriggers {
  const types = new Set<string>();
  const windows = new Map<string, WindowDependency>();
  const visit = (n: IrNode) => {
    if (n.k === 'fact') {
      const args: Record<string, unknown> = { ...(aliasArgs(n.name) ?? {}), ...(n.constArgs ?? {}) };
      if (n.name === 'segment.member') SEGMENT_EVENT_TYPES.forEach((t) => types.add(t));
      else if (typeof args.type === 'string') {
        types.add(args.type);
        const within = toMs(args.within);
        if (within !== undefined && within > 0) windows.set(`${args.type}|${within}`, { type: args.type, withinMs: within });
      } else types.add('*');
    }
    for (const c of irChildren(n)) visit(c);
  };
  visit(condition.node);
  return { eventTypes: types, userAttributes: condition.dependencies.userAttributes, windows: [...windows.values()], usesNow: condition.dependencies.usesNow };
}

/**
 * When the verdict can next change with no event from the user: the first moment one of the
 * counted events leaves its window (its occurrence + the window, plus 1 ms so the boundary event is
 * out). `oldestInWindow` gives, per window, the oldest event of that type inside it (epoch ms).
 * Rechecking then, and again after each recheck, is sound for counts, sums and distinct counts
 * over windows: between two such moments the set of counted events cannot shrink.
 */
export function nextWindowChange(windows: readonly WindowDependency[], oldestInWindow: (w: WindowDependency) => number | undefined): number | undefined {
  let due: number | undefined;
  for (const w of windows) {
    const oldest = oldestInWindow(w);
    if (oldest === undefined) continue;
    const at = oldest + w.withinMs + 1;
    if (due === undefined || at < due) due = at;
  }
  return due;
}

function toMs(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') return parseDuration(v) ?? undefined;
  return undefined;
}
