import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { userStringAttributeSql } from '@arbiter/facts';
import { carriedRead, Coalescer, runReads, type CarriedRead, type ReadKind } from '@arbiter/platform';

/** What can override the rules' verdict for one assessment: the user's snoozes, and an allow list holding them. */
export interface Overrides {
  /** Rules snoozed for the user at the time asked, with the end of each snooze. */
  snoozed: Map<string, Date>;
  /** The first allow list (by name) holding one of the identities asked, or undefined. */
  allowListed?: { list: string; value: string };
}

interface Ask {
  userId: string;
  now: Date;
  identities: readonly string[];
  /** Also look for the email stored on the user (read by the same statement). */
  storedEmail: boolean;
}

/**
 * The read of the user's snoozes and allow lists (a primary-key range scan on the snoozes and an
 * index lookup per identity on the list items, per ask), answered as parts `{kind: 'snooze', a:
 * rule, until}` and at most one `{kind: 'allow', a: list, b: value}` per ask. The pipeline's
 * early read rides along with the event's append; other reads share statements of their own.
 */
export const OVERRIDES_READ: ReadKind<Ask, Overrides> = {
  name: 'fraud_overrides',
  query(asks, first) {
    const p = (n: number) => `$${first + n}`;
    const index: number[] = [];
    const values: string[] = [];
    asks.forEach((a, i) => a.identities.forEach((v) => (index.push(i + 1), values.push(v))));
    const emailOf = asks.flatMap((a, i) => (a.storedEmail ? [i + 1] : []));
    return {
      text: `SELECT q.i::int, json_build_object('kind', 'snooze', 'a', s.rule_id, 'until', s.until)
       FROM unnest(${p(0)}::text[], ${p(1)}::timestamptz[]) WITH ORDINALITY AS q(u, t, i)
       JOIN fraud_snoozes s ON s.user_id = q.u AND s.until > q.t
       UNION ALL
       (SELECT DISTINCT ON (v.i) v.i, json_build_object('kind', 'allow', 'a', it.list_name, 'b', it.value)
        FROM (SELECT * FROM unnest(${p(2)}::int[], ${p(3)}::text[]) AS x(i, v)
              UNION ALL
              SELECT m.i, ${userStringAttributeSql('m.u', 'email')} FROM unnest(${p(4)}::int[], ${p(5)}::text[]) AS m(i, u)) AS v(i, v)
        JOIN fraud_list_items it ON it.value = v.v JOIN fraud_lists l ON l.name = it.list_name AND l.kind = 'allow'
        ORDER BY v.i, it.list_name)`,
      values: [asks.map((a) => a.userId), asks.map((a) => a.now.toISOString()), index, values, emailOf, emailOf.map((i) => asks[i - 1].userId)],
    };
  },
  answer(asks, parts) {
    const out: Overrides[] = asks.map(() => ({ snoozed: new Map<string, Date>() }));
    for (const { i, doc } of parts) {
      const d = doc as { kind: 'snooze' | 'allow'; a: string; b?: string | null; until?: string };
      const o = out[i - 1];
      if (d.kind === 'snooze') o.snoozed.set(d.a, new Date(d.until!));
      else o.allowListed = { list: d.a, value: d.b ?? '' };
    }
    return out;
  },
};

/**
 * The fraud assessment's read of `fraud_snoozes` and the allow lists ({@link OVERRIDES_READ}),
 * asked for every assessed event that matched a rule. Concurrent asks share one statement; the
 * lists and snoozes are written through their own repositories.
 */
@Injectable()
export class FraudOverridesRepository {
  private readonly asks = new Coalescer<Ask, Overrides>((asks) => runReads(this.dataSource, OVERRIDES_READ, asks));

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * The overrides for one assessment: the user's snoozes at `now`, and the first allow list that
   * holds one of `identities` — or, with `storedEmail`, the email stored on the user, which lets
   * the pipeline ask before the event's append has read the user.
   */
  read(userId: string, now: Date, identities: readonly string[], options: { storedEmail?: boolean } = {}): Promise<Overrides> {
    return this.asks.submit(ask(userId, now, identities, options));
  }

  /** {@link read} for another statement to run (the event's append): the read to hand it, and the answer. */
  carried(userId: string, now: Date, identities: readonly string[], options: { storedEmail?: boolean } = {}): { read: CarriedRead; answer: Promise<Overrides> } {
    return carriedRead(OVERRIDES_READ, ask(userId, now, identities, options));
  }
}

const ask = (userId: string, now: Date, identities: readonly string[], options: { storedEmail?: boolean }): Ask => ({ userId, now, identities, storedEmail: options.storedEmail === true });
