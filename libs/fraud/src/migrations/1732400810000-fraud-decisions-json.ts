import type { MigrationInterface, QueryRunner } from 'typeorm';
import { alterJsonColumns } from '@arbiter/platform';

/** Stores the fraud decisions' matches, reasons, facts and events as `json`: only ever written and read whole, they cost far less than as `jsonb`. */
export class FraudDecisionsJson1732400810000 implements MigrationInterface {
  name = 'FraudDecisionsJson1732400810000';

  async up(q: QueryRunner): Promise<void> {
    await alterJsonColumns(q, 'fraud_decisions', ['matched', 'reasons', 'facts', 'event'], 'json');
  }

  async down(q: QueryRunner): Promise<void> {
    await alterJsonColumns(q, 'fraud_decisions', ['matched', 'reasons', 'facts', 'event'], 'jsonb');
  }
}
