import type { DataSource } from 'typeorm';
import { byKind } from './carried-rows';
import { preparedQuery } from './prepared-query';

/**
 * A kind of read one module asks and another module's statement can run for it: the event append
 * runs the stages' early reads (fraud's snoozes and allow lists) in its own statement, where they
 * used to take a statement, a round trip and a connection of their own. `query(asks, first)` is
 * one SELECT answering rows `(i, doc)`: `i` the 1-based position of the ask among `asks`, `doc`
 * one `json` part of its answer (an ask may get none or many); its parameters are numbered from
 * `first`, and its text depends on `first` only. `answer` builds each ask's answer from its parts,
 * in the order the SELECT gave them. `name` names the prepared statements that run it.
 */
export interface ReadKind<A = unknown, R = unknown> {
  readonly name: string;
  query(asks: readonly A[], first: number): { text: string; values: unknown[] };
  answer(asks: readonly A[], parts: readonly { i: number; doc: unknown }[]): R[];
}

/** One ask of a {@link ReadKind}, waiting for a statement to run it; `settle` is called once, with its answer or the error. */
export interface CarriedRead<A = unknown, R = unknown> {
  kind: ReadKind<A, R>;
  ask: A;
  settle(answer: { ok: true; value: R } | { ok: false; error: unknown }): void;
}

/** An ask for another statement to carry, and the promise of its answer. */
export function carriedRead<A, R>(kind: ReadKind<A, R>, ask: A): { read: CarriedRead<A, R>; answer: Promise<R> } {
  let settle!: CarriedRead<A, R>['settle'];
  const answer = new Promise<R>((resolve, reject) => (settle = (s) => (s.ok ? resolve(s.value) : reject(s.error))));
  return { read: { kind, ask, settle }, answer };
}

/** Runs asks of one kind in a statement of their own. */
export async function runReads<A, R>(dataSource: DataSource, kind: ReadKind<A, R>, asks: readonly A[]): Promise<R[]> {
  const { text, values } = kind.query(asks, 1);
  const rows = await preparedQuery<{ i: number | string; doc: unknown }>(dataSource, `arbiter_read_${kind.name}`, `SELECT i, doc FROM (${text}) AS r(i, doc)`, values);
  return kind.answer(asks, rows.map((r) => ({ i: Number(r.i), doc: r.doc })));
}

/**
 * The SELECTs that run `reads` inside a host statement, one per kind (in name order, tagged `r0`,
 * `r1`, ...), each answering `(i, doc)` rows with its parameters numbered from `firstParam`: the
 * host adds them to its own rows (UNION ALL, its columns cast to fit) and, once it ran, hands those
 * rows back to `deliver` with their tags, which settles every read. A host that fails settles
 * nothing: it may be retried, and whoever gives up settles the reads with the error. `name` names
 * the combination of kinds ('' for none).
 */
export function carriedReads(
  reads: readonly CarriedRead[],
  firstParam: number,
): { selects: { tag: string; sql: string }[]; values: unknown[]; name: string; deliver(rows: readonly { tag: string; i: number; doc: unknown }[]): void } {
  const groups = byKind(reads);
  const selects: { tag: string; sql: string }[] = [];
  const values: unknown[] = [];
  for (const [n, g] of groups.entries()) {
    const { text, values: own } = g.kind.query(g.items.map((r) => r.ask), firstParam + values.length);
    selects.push({ tag: `r${n}`, sql: text });
    values.push(...own);
  }
  return {
    selects,
    values,
    name: groups.map((g) => g.kind.name).join('+'),
    deliver(rows) {
      const parts = new Map(groups.map((_, n) => [`r${n}`, [] as { i: number; doc: unknown }[]]));
      for (const r of rows) parts.get(r.tag)?.push({ i: r.i, doc: r.doc });
      groups.forEach((g, n) => {
        let answers: unknown[];
        try {
          answers = g.kind.answer(g.items.map((r) => r.ask), parts.get(`r${n}`)!);
        } catch (error) {
          for (const r of g.items) r.settle({ ok: false, error });
          return;
        }
        g.items.forEach((r, i) => r.settle({ ok: true, value: answers[i] }));
      });
    },
  };
}
