import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ConfigError } from '@arbiter/platform';

/** Scores from which an event is sent to review or declined (`score >= review`, `score >= decline`). */
export interface Thresholds {
  readonly review: number;
  readonly decline: number;
}

const DEFAULTS: Thresholds = Object.freeze({ review: 50, decline: 80 });

/**
 * Fraud settings, read once at boot from `CONFIG_DIR/fraud.yaml`:
 * `thresholds: {default: {review, decline}, per_type: {<event type>: {review?, decline?}}}`.
 * A missing file means the defaults (review from 50, decline from 80); a bad file stops the boot
 * with every problem listed. A per-type entry may give one threshold and inherit the other.
 */
export class FraudConfig {
  constructor(
    readonly defaults: Thresholds,
    readonly perType: ReadonlyMap<string, Thresholds>,
  ) {}

  /** The thresholds that apply to an event type. */
  thresholdsFor(type: string): Thresholds {
    return this.perType.get(type) ?? this.defaults;
  }

  static load(dir: string): FraudConfig {
    const file = join(dir, 'fraud.yaml');
    if (!existsSync(file)) return new FraudConfig(DEFAULTS, new Map());
    let doc: unknown;
    try {
      doc = parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError([`fraud.yaml: ${(err as Error).message.split('\n')[0]}`]);
    }
    const problems: string[] = [];
    const config = FraudConfig.from(doc, problems);
    if (problems.length) throw new ConfigError(problems);
    return config;
  }

  /** Builds the configuration from a parsed document, pushing one problem per bad value. */
  static from(doc: unknown, problems: string[]): FraudConfig {
    const root = asObject(doc ?? {}, 'fraud.yaml', problems) ?? {};
    for (const key of Object.keys(root)) if (key !== 'thresholds') problems.push(`fraud.yaml: unknown section "${key}" (expected thresholds)`);
    const t = asObject(root.thresholds ?? {}, 'fraud.yaml thresholds', problems) ?? {};
    for (const key of Object.keys(t)) if (key !== 'default' && key !== 'per_type') problems.push(`fraud.yaml thresholds: unknown key "${key}" (expected default, per_type)`);
    const defaults = thresholds(t.default, DEFAULTS, 'fraud.yaml thresholds.default', problems);
    const perType = new Map<string, Thresholds>();
    for (const [type, spec] of Object.entries(asObject(t.per_type ?? {}, 'fraud.yaml thresholds.per_type', problems) ?? {})) {
      perType.set(type, thresholds(spec, defaults, `fraud.yaml thresholds.per_type.${type}`, problems));
    }
    return new FraudConfig(defaults, perType);
  }
}

function thresholds(raw: unknown, base: Thresholds, where: string, problems: string[]): Thresholds {
  if (raw === undefined || raw === null) return base;
  const o = asObject(raw, where, problems);
  if (!o) return base;
  const before = problems.length;
  for (const key of Object.keys(o)) if (key !== 'review' && key !== 'decline') problems.push(`${where}: unknown key "${key}" (expected review, decline)`);
  const num = (key: 'review' | 'decline') => {
    const v = o[key];
    if (v === undefined) return base[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      problems.push(`${where}.${key}: must be a number, got ${JSON.stringify(v)}`);
      return base[key];
    }
    return v;
  };
  const out = { review: num('review'), decline: num('decline') };
  if (problems.length === before && out.review > out.decline) problems.push(`${where}: review (${out.review}) must not be above decline (${out.decline})`);
  return Object.freeze(out);
}

function asObject(v: unknown, where: string, problems: string[]): Record<string, unknown> | undefined {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  problems.push(`${where}: must be a mapping`);
  return undefined;
}
