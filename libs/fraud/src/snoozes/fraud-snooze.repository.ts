import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { FraudSnoozeEntity } from '../entities/fraud.entities';

/** Writes of the snoozes (the pipeline reads them through FraudOverridesRepository). */
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
}
