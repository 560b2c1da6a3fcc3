import { CreateRules1732400200000 } from './1732400200000-create-rules';

/** Migrations of the tables @arbiter/ruleset owns, in order. */
export const RULESET_MIGRATIONS = [CreateRules1732400200000];
