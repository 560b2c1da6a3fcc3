import type { MigrationInterface, QueryRunner } from 'typeorm';
import { alterJsonColumns } from '@arbiter/platform';

/** Stores the events' stored results as `json`: only ever written and read whole, they cost far less than as `jsonb`. */
export class OutcomesJson1732400820000 implements MigrationInterface {
  name = 'OutcomesJson1732400820000';

  async up(q: QueryRunner): Promise<void> {
    await alterJsonColumns(q, 'event_outcomes', ['result'], 'json');
  }

  async down(q: QueryRunner): Promise<void> {
    await alterJsonColumns(q, 'event_outcomes', ['result'], 'jsonb');
  }
}
