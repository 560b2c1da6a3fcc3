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
   * For an INSERT whose conflict drops a row: the key column of that conflict and the row's field
   * holding it. A carrier that asks ({@link carriedClauses} `landed`) learns which rows it wrote,
   * and calls {@link CarriedRow.dropped} of the others.
   */
  readonly key?: { readonly column: string; readonly field: string };
}

/** One row of a {@link RowKind}, waiting for a statement to carry it. */
export interface CarriedRow {
  kind: RowKind;
  row: Record<string, unknown>;
  /**
   * Called when the statement carrying this row ran but did not write it, its key being taken
   * already (another process wrote it first, in the race docs/events.md describes): whoever handed
   * the row over corrects what it reported. Only for a kind with a {@link RowKind.key}.
   */
  dropped?: () => Promise<void>;
}

/**
 * `WITH` clauses writing `rows`, grouped by kind (in name order), their parameters numbered from
 * `firstParam`: prepend to a statement that takes `firstParam - 1` parameters of its own. Answers
 * the clause ('' for no rows), the extra parameters, and a name for the combination of kinds.
 *
 * `landed` is '' unless a row has a {@link CarriedRow.dropped}: then the clauses of keyed kinds
 * return the keys they wrote, and `landed` is a query of them (one column, `landed`) for the
 * statement to end with, its main write moved into a clause of its own; {@link droppedRows} reads
 * its answer. Such a statement's name ends in `?`.
 */
export function carriedClauses(rows: readonly CarriedRow[], firstParam: number): { clause: string; values: unknown[]; name: string; landed: string } {
  const groups = byKind(rows);
  if (!groups.length) return { clause: '', values: [], name: '', landed: '' };
  const checked = rows.some((r) => r.dropped && r.kind.key);
  const clauses: string[] = [];
  const landed: string[] = [];
  const values: unknown[] = [];
  for (const [i, g] of groups.entries()) {
    const params = rowParams(g.kind.shape, g.items.map((r) => r.row), firstParam + values.length);
    const key = checked ? g.kind.key : undefined;
    clauses.push(`carried_${i} AS (${g.kind.sql(params)}${key ? ` RETURNING ${key.column}::text AS landed` : ''})`);
    if (key) landed.push(`SELECT landed FROM carried_${i}`);
    values.push(...params.values);
  }
  const name = groups.map((g) => g.kind.name).join('+') + (checked ? '?' : '');
  return { clause: `WITH ${clauses.join(', ')} `, values, name, landed: landed.join(' UNION ALL ') };
}

/** The rows of `rows` that can tell they were dropped and were: their keys are not among `landed` (the answer of a statement that ended with {@link carriedClauses}' `landed`). */
export function droppedRows(rows: readonly CarriedRow[], landed: readonly { landed: string }[]): CarriedRow[] {
  const checked = rows.filter((r) => r.dropped && r.kind.key);
  if (!checked.length) return [];
  const written = new Set(landed.map((l) => l.landed));
  return checked.filter((r) => !written.has(String(r.row[r.kind.key!.field])));
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
  const carried = carriedClauses(rows.filter((r) => r.kind.recordsDone), 1);
  if (!carried.values.length) return;
  await preparedQuery(dataSource, `arbiter_carried_${carried.name}`, `${carried.clause}SELECT 1`, carried.values);
}
