import { children, IrNode } from './ir';

/**
 * What a compiled rule or condition reads: computed fact names, user attributes, payload fields
 * (dotted, without `payload.`), event fields, the event types it listens to (`*` for all) and
 * whether it reads the clock. Growth indexes segments by these to know which ones an event or a
 * changed attribute can affect.
 */
export interface Dependencies {
  facts: readonly string[];
  userAttributes: readonly string[];
  payloadFields: readonly string[];
  eventFields: readonly string[];
  eventTypes: readonly string[];
  usesNow: boolean;
}

export function collectDependencies(roots: readonly IrNode[], eventTypes: readonly string[]): Dependencies {
  const facts = new Set<string>();
  const user = new Set<string>();
  const payload = new Set<string>();
  const event = new Set<string>();
  let usesNow = false;
  const stack = [...roots];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.k === 'fact') facts.add(n.name);
    else if (n.k === 'user') user.add(n.attr);
    else if (n.k === 'payload') payload.add(n.path.join('.'));
    else if (n.k === 'event') event.add(n.field);
    else if (n.k === 'now') usesNow = true;
    stack.push(...children(n));
  }
  const sorted = (s: Set<string>) => Object.freeze([...s].sort());
  return Object.freeze({
    facts: sorted(facts),
    userAttributes: sorted(user),
    payloadFields: sorted(payload),
    eventFields: sorted(event),
    eventTypes: Object.freeze([...new Set(eventTypes)].sort()),
    usesNow,
  });
}
