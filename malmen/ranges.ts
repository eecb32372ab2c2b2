/**
 * Allowed ranges of numeric settings, checked before any work starts: the training functions
 * check their options with {@linkcode requireInRange}, the CLIs their flags with the same ranges,
 * so a batch of 0 or a learning rate of -1 is refused by name at once instead of hanging or
 * training garbage.
 * @module
 */

/** An allowed range (all bounds optional). */
export interface Range {
  /** Whole numbers only. */
  integer?: boolean;
  /** Smallest allowed value. */
  min?: number;
  /** Values must be greater than this. */
  above?: number;
  /** Largest allowed value. */
  max?: number;
}

/**
 * The range in words: `an integer ≥ 1`, `a number > 0 and ≤ 1`.
 * @param range The range.
 */
export function describeRange(range: Range): string {
  const bounds: string[] = [];
  if (range.min !== undefined) bounds.push(`≥ ${range.min}`);
  if (range.above !== undefined) bounds.push(`> ${range.above}`);
  if (range.max !== undefined) bounds.push(`≤ ${range.max}`);
  const kind = range.integer ? "an integer" : "a number";
  return bounds.length === 0 ? kind : `${kind} ${bounds.join(" and ")}`;
}

/**
 * Whether a value is finite and inside a range.
 * @param value The value.
 * @param range The range.
 */
export function inRange(value: number, range: Range): boolean {
  return Number.isFinite(value) &&
    (!range.integer || Number.isInteger(value)) &&
    (range.min === undefined || value >= range.min) &&
    (range.above === undefined || value > range.above) &&
    (range.max === undefined || value <= range.max);
}

/**
 * Checks named options against their ranges (undefined values are skipped: defaults apply).
 * @param what Whose options, for the message (e.g. "trainLm()").
 * @param checks Option name → [value, range].
 * @throws {RangeError} `trainLm(): batchSize must be an integer ≥ 1, got 0`.
 */
export function requireInRange(
  what: string,
  checks: Readonly<Record<string, readonly [number | undefined, Range]>>,
): void {
  for (const [name, [value, range]] of Object.entries(checks)) {
    if (value !== undefined && !inRange(value, range)) {
      throw new RangeError(`${what}: ${name} must be ${describeRange(range)}, got ${value}`);
    }
  }
}

/** Common ranges. */
export const RANGES = {
  /** A count of at least one (steps, batch sizes, edits). */
  count: { integer: true, min: 1 },
  /** A count that may be zero. */
  countOrZero: { integer: true, min: 0 },
  /** A learning rate: positive, at most 1 (larger ones only diverge). */
  lr: { above: 0, max: 1 },
  /** A duration or budget: positive. */
  positive: { above: 0 },
  /** A weight or coefficient: zero or more. */
  weight: { min: 0 },
  /** A fraction. */
  fraction: { min: 0, max: 1 },
  /** A seed: a 32-bit unsigned integer. */
  seed: { integer: true, min: 0, max: 2 ** 32 - 1 },
} as const satisfies Record<string, Range>;
