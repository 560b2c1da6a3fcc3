import type { DataSource } from 'typeorm';
import { preparedQuery, rowParams, type RowParams, type RowShape } from './prepared-query';

/**
 * A kind of row one module writes and another module's statement can carry: the event pipeline
 * folds the fraud decision and the action log's records of inline outcomes into the statement that
 * stores the event's outcome — one round trip, one commit and one plan for all three, and the
 * three land together or not at all. `sql(rows)` is one INSERT or UPDATE, with no WITH and no
 * RETURNING of its own, that reads its rows, of columns `shape`, from `rows.source` (an item for
 * FROM, aliased `x`; see {@link rowParams}). Two rows with the same key in one statement must be
 * harmless: an INSERT takes ON CONFLICT DO NOTHING (the first row stays), and an UPDATE ... FROM
 * applies one of them, which one being unspecified. `name` names the prepared statements that
 * carry it: one text per name.
 */
export interface RowKind {
  readonly name: string;
  readonly shape: RowShape;
  sql(rows: RowParams): string;
  /**
   * Rows that record something already done (an action's outcome) are written even when the
   * statement that was to carry them is not run (the event failed); others are dropped with it.
   */
  readonly recordsDone?: boolean;
  /**
   * An INSERT whose ON CONFLICT may drop a row that another process wrote first under its key. A
   * carrier of rows with {@link CarriedRow.dropped} learns whether it wrote them all
   * ({@link carriedClauses}' `dropped`), and if not calls their `dropped`.
   */
  readonly mayDrop?: boolean;
}

/** One row of a {@link RowKind}, waiting for a statement to carry it. */
export interface CarriedRow {
  kind: RowKind;
  row: Record<string, unknown>;
  /**
   * Called when the statement carrying this row ran and wrote fewer rows of its kind than it was
   * given, a key being taken already (another process wrote it first, in the race docs/events.md
   * describes): whoever handed the row over checks whether its own row is the one stored and, if
   * not, corrects what it reported. Only for a kind that {@link RowKind.mayDrop}.
   */
  dropped?: () => Promise<void>;
}

/**
 * `WITH` clauses writing `rows`, grouped by kind (in name order), their parameters numbered from
 * `firstParam`: prepend to a statement that takes `firstParam - 1` parameters of its own. Answers
 * the clause ('' for no rows), the extra parameters, and a name for the combination of kinds.
 *
 * `dropped` is '' unless a row has a {@link CarriedRow.dropped}: then it is a query, for the
 * statement to end with (its main write moved into a clause of its own), of the names of the kinds
 * that may drop rows and wrote fewer than they were given (one column, `dropped`; usually no row), and
 * {@link droppedRows} reads its answer. Such a statement's name ends in `?`.
 */
export function carriedClauses(rows: readonly CarriedRow[], firstParam: number): { clause: string; values: unknown[]; name: string; dropped: string } {
  const groups = byKind(rows);
  if (!groups.length) return { clause: '', values: [], name: '', dropped: '' };
  const checked = rows.some((r) => r.dropped && r.kind.mayDrop);
  const clauses: string[] = [];
  const dropped: string[] = [];
  const values: unknown[] = [];
  for (const [i, g] of groups.entries()) {
    const params = rowParams(g.kind.shape, g.items.map((r) => r.row), firstParam + values.length);
    values.push(...params.values);
    const counted = checked && g.kind.mayDrop === true;
    clauses.push(`carried_${i} AS (${g.kind.sql(params)}${counted ? ' RETURNING 1' : ''})`);
    if (counted) {
      // Counted, not listed: the answer is empty unless a key was taken already.
      values.push(g.items.length);
      dropped.push(`SELECT '${g.kind.name}'::text AS dropped FROM (SELECT count(*) AS n FROM carried_${i}) c WHERE c.n < $${firstParam + values.length - 1}::int`);
    }
  }
  const name = groups.map((g) => g.kind.name).join('+') + (checked ? '?' : '');
  return { clause: `WITH ${clauses.join(', ')} `, values, name, dropped: dropped.join(' UNION ALL ') };
}

/**
 * The rows of `rows` that may have been dropped: those with a {@link CarriedRow.dropped} of the
 * kinds named in `dropped`, the answer of a statement that ended with {@link carriedClauses}'
 * `dropped`. Their `dropped` finds out whether their own row was written, and corrects only then.
 */
export function droppedRows(rows: readonly CarriedRow[], dropped: readonly { dropped: string }[]): CarriedRow[] {
  if (!dropped.length) return [];
  const kinds = new Set(dropped.map((d) => d.dropped));
  return rows.filter((r) => r.dropped && kinds.has(r.kind.name));
}

/**
 * Carried items (rows, reads) grouped by their kind, the groups in name order and the items in
 * theirs: a statement that carries them writes one clause per kind, in an order its name can tell.
 */
export function byKind<T extends { kind: { readonly name: string } }>(items: readonly T[]): { kind: T['kind']; items: T[] }[] {
  const groups = new Map<string, { kind: T['kind']; items: T[] }>();
  for (const item of items) {
    const group = groups.get(item.kind.name);
    if (group) group.items.push(item);
    else groups.set(item.kind.name, { kind: item.kind, items: [item] });
  }
  return [...groups.values()].sort((a, b) => (a.kind.name < b.kind.name ? -1 : 1));
}

/** Writes the carried rows that record something done ({@link RowKind.recordsDone}) on their own: their carrier will not run. */
export async function writeCarriedRecords(dataSource: DataSource, rows: readonly CarriedRow[]): Promise<void> {
  // Nothing to correct here (the event failed and answers no result): no count of dropped rows.
  const carried = carriedClauses(rows.filter((r) => r.kind.recordsDone).map((r) => (r.dropped ? { kind: r.kind, row: r.row } : r)), 1);
  if (!carried.values.length) return;
  await preparedQuery(dataSource, `arbiter_carried_${carried.name}`, `${carried.clause}SELECT 1`, carried.values);
}
