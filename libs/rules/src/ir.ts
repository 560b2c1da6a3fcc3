import { ArithOp, CompareOp } from './parser';
import { formatValue, RuleType } from './types';

/** Where a node came from, for traces and messages. */
export interface Origin {
  path: string;
  line?: number;
  column?: number;
}

export type BuiltinFn = 'min' | 'max' | 'abs' | 'round' | 'floor' | 'ceil';

interface Base {
  type: RuleType;
  origin: Origin;
  /** Relative evaluation cost of the subtree; children of and/or run cheapest first. */
  cost: number;
  /** True when the subtree reads a computed fact, whose value may arrive later (a Promise). */
  async: boolean;
}

/**
 * The typed intermediate representation both rule forms compile to. Every node is already
 * checked: types agree, fact paths are declared, regexes are vetted. Both evaluators (the
 * closure interpreter and the generated code) and the dependency walk read only this.
 */
export type IrNode = Base &
  (
    | { k: 'lit'; value: unknown }
    | { k: 'list'; items: IrNode[] }
    | { k: 'payload'; path: string[] }
    | { k: 'event'; field: string }
    | { k: 'user'; attr: string }
    | { k: 'now' }
    | { k: 'fact'; name: string; params: { name: string; type: RuleType; node: IrNode; optional: boolean }[]; constKey?: string; constArgs?: Record<string, unknown> }
    | { k: 'neg'; arg: IrNode }
    | { k: 'arith'; op: ArithOp; left: IrNode; right: IrNode }
    | { k: 'fn'; fn: BuiltinFn; args: IrNode[] }
    | { k: 'cmp'; op: CompareOp; left: IrNode; right: IrNode; regex?: RegExp }
    | { k: 'exists'; arg: IrNode }
    | { k: 'truthy'; arg: IrNode }
    | { k: 'not'; arg: IrNode }
    | { k: 'and'; args: IrNode[] }
    | { k: 'or'; args: IrNode[] }
  );

export type IrOf<K extends IrNode['k']> = Extract<IrNode, { k: K }>;

const PRECEDENCE: Record<string, number> = { or: 1, and: 2, not: 3, cmp: 4, exists: 4, '+': 5, '-': 5, '*': 6, '/': 6, '%': 6, neg: 7 };

function prec(n: IrNode): number {
  switch (n.k) {
    case 'or':
    case 'and':
    case 'not':
    case 'cmp':
    case 'exists':
    case 'neg':
      return PRECEDENCE[n.k];
    case 'arith':
      return PRECEDENCE[n.op];
    default:
      return 9;
  }
}

/** Renders a node back to the expression language, for traces and "why not" messages. */
export function render(n: IrNode): string {
  const wrap = (child: IrNode, min: number) => (prec(child) < min ? `(${render(child)})` : render(child));
  switch (n.k) {
    case 'lit':
      return n.type === 'null' ? 'null' : formatValue(n.value, n.type);
    case 'list':
      return `[${n.items.map(render).join(', ')}]`;
    case 'payload':
      return `payload.${n.path.join('.')}`;
    case 'event':
      return `event.${n.field}`;
    case 'user':
      return `user.${n.attr}`;
    case 'now':
      return 'now';
    case 'fact':
      return n.params.length ? `${n.name}(${n.params.map((p) => `${p.name}: ${render(p.node)}`).join(', ')})` : n.name;
    case 'neg':
      return `-${wrap(n.arg, 8)}`;
    case 'arith':
      return `${wrap(n.left, PRECEDENCE[n.op])} ${n.op} ${wrap(n.right, PRECEDENCE[n.op] + 1)}`;
    case 'fn':
      return `${n.fn}(${n.args.map(render).join(', ')})`;
    case 'cmp':
      return `${wrap(n.left, 5)} ${n.op} ${wrap(n.right, 5)}`;
    case 'exists':
      return `exists ${wrap(n.arg, 5)}`;
    case 'truthy':
      return render(n.arg);
    case 'not':
      return `not ${wrap(n.arg, 3)}`;
    case 'and':
    case 'or':
      return n.args.length === 0 ? (n.k === 'and' ? 'true' : 'false') : n.args.map((a) => wrap(a, PRECEDENCE[n.k] + 1)).join(` ${n.k} `);
  }
}

/** Direct children of a node, in evaluation order. */
export function children(n: IrNode): IrNode[] {
  switch (n.k) {
    case 'list':
      return n.items;
    case 'fact':
      return n.params.map((p) => p.node);
    case 'neg':
    case 'exists':
    case 'truthy':
    case 'not':
      return [n.arg];
    case 'arith':
    case 'cmp':
      return [n.left, n.right];
    case 'fn':
    case 'and':
    case 'or':
      return n.args;
    default:
      return [];
  }
}

/** Is this node a leaf of the condition tree (a comparison, a test, or a boolean value)? */
export function isConditionNode(n: IrNode): boolean {
  return n.k === 'cmp' || n.k === 'exists' || n.k === 'truthy' || n.k === 'not' || n.k === 'and' || n.k === 'or' || (n.k === 'lit' && n.type === 'boolean');
}
