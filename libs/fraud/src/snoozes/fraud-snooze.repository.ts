import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { FraudSnoozeEntity } from '../entities/fraud.entities';

/** The snoozes' one I/O boundary. */
@Injectable()
export class FraudSnoozeRepository {
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

  /** The rules snoozed for `userId` at `now`, with the end of each snooze (one primary-key range scan). */
  async active(userId: string, now: Date): Promise<Map<string, Date>> {
    const rows: { rule_id: string; until: Date | string }[] = await this.repo.query(`SELECT rule_id, until FROM fraud_snoozes WHERE user_id = $1 AND until > $2`, [userId, now]);
    return new Map(rows.map((r) => [r.rule_id, r.until instanceof Date ? r.until : new Date(r.until)]));
  }
}
