import { CreateActionLog1732400100000 } from './1732400100000-create-action-log';

/** Migrations of the tables @arbiter/actions owns, in order. */
export const ACTIONS_MIGRATIONS = [CreateActionLog1732400100000];
