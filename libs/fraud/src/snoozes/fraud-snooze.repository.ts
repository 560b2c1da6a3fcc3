import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { Coalescer, preparedQuery } from '@arbiter/platform';
import { FraudSnoozeEntity } from '../entities/fraud.entities';

/** The snoozes' one I/O boundary. */
@Injectable()
export class FraudSnoozeRepository {
  /** The pipeline asks for every assessed event: concurrent asks share one statement. */
  private readonly lookups = new Coalescer<{ userId: string; now: Date }, Map<string, Date>>((qs) => this.activeMany(qs));

  constructor(@InjectRepository(FraudSnoozeEntity) private readonly repo: Repository<FraudSnoozeEntity>) {}

  async put(ruleId: string, userId: string, until: Date, note: string | null): Promise<void> {
    await this.repo.query(
      `INSERT INTO fraud_snoozes (rule_id, user_id, until, note) VALUES ($1, $2, $3, $4)
       ON CONFLICT (user_id, rule_id) DO UPDATE SET until = EXCLUDED.until, note = EXCLUDED.note, created_at = now()`,
      [ruleId, userId, until, note],
    );
  }

  async remove(ruleId: string, userId: string): Promise<boolean> {
    const [, affected]: [unknown, number] = await this.repo.query(`DELETE FROM fraud_snoozes WHERE rule_id = $1 AND user_id = $2`, [ruleId, userId]);
    return affected > 0;
  }

  /** The rules snoozed for `userId` at `now`, with the end of each snooze (primary-key range scans). */
  active(userId: string, now: Date): Promise<Map<string, Date>> {
    return this.lookups.submit({ userId, now });
  }

  private async activeMany(qs: { userId: string; now: Date }[]): Promise<Map<string, Date>[]> {
    const rows = await preparedQuery<{ i: string; rule_id: string; until: Date | string }>(
      this.repo.manager.connection,
      'arbiter_fraud_snoozes_active',
      `SELECT q.i, s.rule_id, s.until FROM unnest($1::text[], $2::timestamptz[]) WITH ORDINALITY AS q(u, t, i)
       JOIN fraud_snoozes s ON s.user_id = q.u AND s.until > q.t`,
      [qs.map((q) => q.userId), qs.map((q) => q.now.toISOString())],
    );
    const out = qs.map(() => new Map<string, Date>());
    for (const r of rows) out[Number(r.i) - 1].set(r.rule_id, r.until instanceof Date ? r.until : new Date(r.until));
    return out;
  }
}
