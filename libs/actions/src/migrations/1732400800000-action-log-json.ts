import type { MigrationInterface, QueryRunner } from 'typeorm';
import { alterJsonColumns } from '@arbiter/platform';

/** Stores the action log's parameters, events and results as `json`: only ever written and read whole, they cost far less than as `jsonb`. */
export class ActionLogJson1732400800000 implements MigrationInterface {
  name = 'ActionLogJson1732400800000';

  async up(q: QueryRunner): Promise<void> {
    await alterJsonColumns(q, 'action_log', ['params', 'event', 'result'], 'json');
  }

  async down(q: QueryRunner): Promise<void> {
    await alterJsonColumns(q, 'action_log', ['params', 'event', 'result'], 'jsonb');
  }
}
