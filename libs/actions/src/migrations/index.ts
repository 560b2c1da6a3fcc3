import { CreateActionLog1732400100000 } from './1732400100000-create-action-log';
import { ActionLogJson1732400800000 } from './1732400800000-action-log-json';

/** Migrations of the tables @arbiter/actions owns, in order. */
export const ACTIONS_MIGRATIONS = [CreateActionLog1732400100000, ActionLogJson1732400800000];
