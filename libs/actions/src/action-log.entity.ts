import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { ActionEvent, ActionMode } from './action.interfaces';

/**
 * Where an execution stands: `running` (inline, in the call now), `queued` (deferred, waiting or
 * between retries), `retrying` (a try failed, another is scheduled), `succeeded`, `failed` (final).
 */
export type ActionStatus = 'running' | 'queued' | 'retrying' | 'succeeded' | 'failed';

/**
 * One action execution, keyed by its idempotency key (event id + rule id + action index). The row
 * is written before the action runs, so a replayed event, a duplicate job or a second process finds
 * it and does not run the action again.
 */
@Entity({ name: 'action_log' })
export class ActionLogEntry {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Index({ unique: true })
  @Column({ name: 'idempotency_key', type: 'text' })
  idempotencyKey!: string;

  @Column({ name: 'event_id', type: 'text' })
  eventId!: string;

  @Column({ name: 'rule_id', type: 'text' })
  ruleId!: string;

  @Column({ type: 'text' })
  domain!: string;

  @Column({ name: 'action_index', type: 'int' })
  actionIndex!: number;

  @Column({ type: 'text' })
  action!: string;

  @Column({ type: 'text' })
  mode!: ActionMode;

  @Column({ type: 'text' })
  status!: ActionStatus;

  @Column({ type: 'json' })
  params!: Record<string, unknown>;

  /** The event the action ran for; a retried deferred action is rebuilt from it. */
  @Column({ type: 'json' })
  event!: ActionEvent;

  @Column({ type: 'json', nullable: true })
  result!: unknown;

  @Column({ name: 'error_code', type: 'text', nullable: true })
  errorCode!: string | null;

  @Column({ name: 'error_message', type: 'text', nullable: true })
  errorMessage!: string | null;

  @Column({ type: 'int', default: 0 })
  attempts!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
