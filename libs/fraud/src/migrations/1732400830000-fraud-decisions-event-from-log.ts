import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A pipeline decision no longer keeps a copy of its event: the event log has it (`events`), and
 * the decision's reads join it. Decisions of `POST /v1/fraud/check`, whose events are not logged,
 * keep theirs. Rows written before keep their copies.
 */
export class FraudDecisionsEventFromLog1732400830000 implements MigrationInterface {
  name = 'FraudDecisionsEventFromLog1732400830000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE fraud_decisions ALTER COLUMN event DROP NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    // Copies back from the log what it still holds, as the reads show it; an erased user's event is gone, and stays an empty object.
    await q.query(
      `UPDATE fraud_decisions d SET event = json_build_object('id', e.id, 'type', e.type, 'user_id', e.user_id, 'source', e.source, 'occurred_at', to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'payload', e.payload)
       FROM events e WHERE d.event IS NULL AND e.id = d.event_id`,
    );
    await q.query(`UPDATE fraud_decisions SET event = '{}' WHERE event IS NULL`);
    await q.query(`ALTER TABLE fraud_decisions ALTER COLUMN event SET NOT NULL`);
  }
}
