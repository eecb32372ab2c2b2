/**
 * Learning-rate schedule: linear warm-up, then cosine decay to a floor.
 * @module
 */

/** Schedule parameters. */
export interface LrSchedule {
  /** Peak learning rate. */
  lr: number;
  /** Final learning rate. */
  minLr: number;
  /** Warm-up steps. */
  warmup: number;
  /** Step at which the decay reaches `minLr`. */
  total: number;
}

/**
 * The learning rate at a step.
 * @param s The schedule.
 * @param step Step index (0-based).
 */
export function lrAt(s: LrSchedule, step: number): number {
  if (step < s.warmup) return (s.lr * (step + 1)) / s.warmup;
  const t = Math.min(1, (step - s.warmup) / Math.max(1, s.total - s.warmup));
  return s.minLr + 0.5 * (s.lr - s.minLr) * (1 + Math.cos(Math.PI * t));
}
