import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A failed queued event's `error` is served to clients of `GET /v1/events/:id` (scope `read`) and
 * is now written in the words a call would have had (docs/events.md). Failures recorded before
 * hold the raw message of whatever failed (a database's words, a host name): they get the generic
 * reason, the one a failure of the service's own gets now. The failed-jobs list (scope `admin`)
 * still has each job's own reason. Not undone: the old text is not kept.
 */
export class PublicFailureReasons1732400850000 implements MigrationInterface {
  name = 'PublicFailureReasons1732400850000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE event_outcomes SET error = $1 WHERE status = 'failed'`, [
      'the service failed to process this event; the reason is in the log and in GET /v1/events/failed (scope admin)',
    ]);
  }

  async down(): Promise<void> {
    // Nothing to undo: the reasons it replaced are gone, and the generic one reads fine to older code.
  }
}
