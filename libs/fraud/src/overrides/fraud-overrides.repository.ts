import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { userStringAttributeSql } from '@arbiter/facts';
import { Coalescer, preparedQuery } from '@arbiter/platform';

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
 * The pipeline's read of `fraud_snoozes` and the allow lists, asked for every assessed event
 * that matched a rule. Concurrent asks share one statement (a primary-key range scan on the
 * snoozes and an index lookup per identity on the list items each); the lists and snoozes are
 * written through their own repositories.
 */
@Injectable()
export class FraudOverridesRepository {
  private readonly asks = new Coalescer<Ask, Overrides>((asks) => this.readMany(asks));

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * The overrides for one assessment: the user's snoozes at `now`, and the first allow list that
   * holds one of `identities` — or, with `storedEmail`, the email stored on the user, which lets
   * the pipeline ask before the event's append has read the user.
   */
  read(userId: string, now: Date, identities: readonly string[], options: { storedEmail?: boolean } = {}): Promise<Overrides> {
    return this.asks.submit({ userId, now, identities, storedEmail: options.storedEmail === true });
  }

  private async readMany(asks: Ask[]): Promise<Overrides[]> {
    const index: number[] = [];
    const values: string[] = [];
    asks.forEach((a, i) => a.identities.forEach((v) => (index.push(i + 1), values.push(v))));
    const emailOf = asks.flatMap((a, i) => (a.storedEmail ? [i + 1] : []));
    const rows = await preparedQuery<{ i: string | number; kind: 'snooze' | 'allow'; a: string; b: string | null; until: Date | string | null }>(
      this.dataSource,
      'arbiter_fraud_overrides',
      `SELECT q.i, 'snooze' AS kind, s.rule_id AS a, NULL::text AS b, s.until
       FROM unnest($1::text[], $2::timestamptz[]) WITH ORDINALITY AS q(u, t, i)
       JOIN fraud_snoozes s ON s.user_id = q.u AND s.until > q.t
       UNION ALL
       (SELECT DISTINCT ON (v.i) v.i, 'allow', it.list_name, it.value, NULL::timestamptz
        FROM (SELECT * FROM unnest($3::int[], $4::text[]) AS x(i, v)
              UNION ALL
              SELECT m.i, ${userStringAttributeSql('m.u', 'email')} FROM unnest($5::int[], $6::text[]) AS m(i, u)) AS v(i, v)
        JOIN fraud_list_items it ON it.value = v.v JOIN fraud_lists l ON l.name = it.list_name AND l.kind = 'allow'
        ORDER BY v.i, it.list_name)`,
      [asks.map((a) => a.userId), asks.map((a) => a.now.toISOString()), index, values, emailOf, emailOf.map((i) => asks[i - 1].userId)],
    );
    const out: Overrides[] = asks.map(() => ({ snoozed: new Map<string, Date>() }));
    for (const r of rows) {
      const o = out[Number(r.i) - 1];
      if (r.kind === 'snooze') o.snoozed.set(r.a, r.until instanceof Date ? r.until : new Date(String(r.until)));
      else o.allowListed = { list: r.a, value: r.b ?? '' };
    }
    return out;
  }
}
