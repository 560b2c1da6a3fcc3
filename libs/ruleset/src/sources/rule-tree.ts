import type { ConditionTree, RuleSpec } from '@arbiter/rules';

/** One node of a stored condition tree (a row of `rule_nodes`). */
export interface NodeRow {
  node_id: number;
  parent_id: number | null;
  position: number;
  kind: 'all' | 'any' | 'not' | 'ref' | 'expr' | 'leaf' | 'bool' | 'raw';
  fact: string | null;
  operator: string | null;
  value: unknown;
  expression: string | null;
  params: Record<string, unknown> | null;
}

/** The columns of a stored rule version other than its condition tree. */
export interface RuleRowFields {
  domain: string;
  on: string[] | string | null;
  priority: number | null;
  enabled: boolean | null;
  description: string | null;
  then: unknown;
  /** Every other rule field (`score`, `outcome`, `mode`, `metadata`, domain extensions). */
  extra: Record<string, unknown>;
}

const CORE = new Set(['id', 'domain', 'on', 'priority', 'enabled', 'description', 'when', 'then']);

/**
 * Flattens a rule into a row plus one row per condition node, parent before child, so the
 * database holds the tree as data an operator can query (which rules read `payload.amount`?).
 * Anything that is not a recognised node shape is kept verbatim (`raw`) for the compiler to
 * report on; flattening never loses or reinterprets a rule.
 */
export function flattenRule(spec: RuleSpec): { fields: RuleRowFields; nodes: NodeRow[] } {
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(spec)) if (!CORE.has(k)) extra[k] = v;
  const nodes: NodeRow[] = [];
  if (spec.when !== undefined) flattenNode(spec.when, null, 0, nodes);
  return {
    fields: {
      domain: spec.domain,
      on: (spec.on as string[] | string | undefined) ?? null,
      priority: spec.priority ?? null,
      enabled: spec.enabled ?? null,
      description: spec.description ?? null,
      then: spec.then ?? null,
      extra,
    },
    nodes,
  };
}

function flattenNode(tree: unknown, parent: number | null, position: number, out: NodeRow[]): void {
  const id = out.length;
  const row: NodeRow = { node_id: id, parent_id: parent, position, kind: 'raw', fact: null, operator: null, value: null, expression: null, params: null };
  out.push(row);
  if (typeof tree === 'string') {
    row.kind = 'expr';
    row.expression = tree;
    return;
  }
  if (typeof tree === 'boolean') {
    row.kind = 'bool';
    row.value = tree;
    return;
  }
  if (typeof tree === 'object' && tree !== null && !Array.isArray(tree)) {
    const o = tree as Record<string, unknown>;
    const keys = Object.keys(o);
    const only = (k: string) => keys.length === 1 && keys[0] === k;
    if ((only('all') || only('any')) && Array.isArray(o[keys[0]])) {
      row.kind = keys[0] as 'all' | 'any';
      (o[keys[0]] as unknown[]).forEach((child, i) => flattenNode(child, id, i, out));
      return;
    }
    if (only('not')) {
      row.kind = 'not';
      flattenNode(o.not, id, 0, out);
      return;
    }
    if (only('ref') && typeof o.ref === 'string') {
      row.kind = 'ref';
      row.expression = o.ref;
      return;
    }
    if (only('expr') && typeof o.expr === 'string') {
      row.kind = 'expr';
      row.expression = o.expr;
      row.value = { wrapped: true };
      return;
    }
    const leafKeys = new Set(['fact', 'op', 'value', 'params']);
    if (typeof o.fact === 'string' && typeof o.op === 'string' && keys.every((k) => leafKeys.has(k))) {
      row.kind = 'leaf';
      row.fact = o.fact;
      row.operator = o.op;
      row.value = 'value' in o ? { v: o.value } : null;
      row.params = (o.params as Record<string, unknown> | undefined) ?? null;
      return;
    }
  }
  row.value = { v: tree };
}

/** Rebuilds the rule a {@link flattenRule} produced (the inverse, exactly). */
export function unflattenRule(id: string, fields: RuleRowFields, nodes: readonly NodeRow[]): RuleSpec {
  const spec: RuleSpec = { id, domain: fields.domain };
  if (fields.on !== null && fields.on !== undefined) spec.on = fields.on;
  if (fields.priority !== null && fields.priority !== undefined) spec.priority = fields.priority;
  if (fields.enabled !== null && fields.enabled !== undefined) spec.enabled = fields.enabled;
  if (fields.description !== null && fields.description !== undefined) spec.description = fields.description;
  if (nodes.length) spec.when = buildTree(nodes);
  if (fields.then !== null && fields.then !== undefined) spec.then = fields.then as RuleSpec['then'];
  Object.assign(spec, fields.extra ?? {});
  return spec;
}

function buildTree(nodes: readonly NodeRow[]): ConditionTree {
  const children = new Map<number, NodeRow[]>();
  let root: NodeRow | undefined;
  for (const n of nodes) {
    if (n.parent_id === null) root = n;
    else {
      const list = children.get(n.parent_id) ?? [];
      list.push(n);
      children.set(n.parent_id, list);
    }
  }
  for (const list of children.values()) list.sort((a, b) => a.position - b.position);
  const build = (n: NodeRow): ConditionTree => {
    const kids = children.get(n.node_id) ?? [];
    switch (n.kind) {
      case 'all':
        return { all: kids.map(build) };
      case 'any':
        return { any: kids.map(build) };
      case 'not':
        return { not: build(kids[0]) };
      case 'ref':
        return { ref: n.expression! };
      case 'expr':
        return (n.value as { wrapped?: boolean } | null)?.wrapped ? { expr: n.expression! } : n.expression!;
      case 'bool':
        return n.value as boolean;
      case 'leaf': {
        const leaf: { fact: string; op: string; value?: unknown; params?: Record<string, unknown> } = { fact: n.fact!, op: n.operator! };
        if (n.value !== null && n.value !== undefined) leaf.value = (n.value as { v: unknown }).v;
        if (n.params) leaf.params = n.params;
        return leaf;
      }
      default:
        return (n.value as { v: ConditionTree }).v;
    }
  };
  if (!root) throw new Error('stored condition tree has no root node');
  return build(root);
}
