import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * One event of the event log, as received. The `(user_id, type, occurred_at)` index serves every
 * built-in fact (per-user, per-type time windows); `(user_id, occurred_at)` serves first-seen and
 * erasure. Owned by @arbiter/facts; other libs append and read through EventLogService.
 */
@Entity({ name: 'events' })
@Index('events_user_type_time', ['userId', 'type', 'occurredAt'])
@Index('events_user_time', ['userId', 'occurredAt'])
export class EventEntity {
  @PrimaryColumn({ type: 'varchar', length: 128 })
  id!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 128 })
  userId!: string;

  @Column({ type: 'varchar', length: 64 })
  type!: string;

  @Column({ type: 'varchar', length: 256, default: 'api' })
  source!: string;

  @Column({ name: 'occurred_at', type: 'timestamptz' })
  occurredAt!: Date;

  @Column({ name: 'received_at', type: 'timestamptz', default: () => 'now()' })
  receivedAt!: Date;

  @Column({ type: 'jsonb', default: () => "'{}'::jsonb" })
  payload!: Record<string, unknown>;
}
