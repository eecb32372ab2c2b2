/**
 * The finite guard of the training loops (the LM's and the editors' meta-training): a NaN or ±Inf
 * loss or gradient norm stops the run with an error naming the step, before anything of it is
 * saved, so the last good checkpoint stays the run's latest.
 * @module
 */
import { describeNonFinite, NonFiniteError } from "../../engine/nn/finite.ts";
import type { Module } from "../../engine/nn/module.ts";
import { writeCheckpoint } from "./run_dir.ts";

/** Where a guarded run stands, for the message (`saved` moves on with each checkpoint). */
export interface GuardContext {
  /** "Training" or "Meta-training". */
  what: string;
  /** The run folder. */
  dir: string;
  /** Step of the newest checkpoint written, or null when none was. */
  saved: number | null;
}

function advice(c: GuardContext): string {
  const kept = c.saved === null
    ? "no checkpoint was written"
    : `the last checkpoint in "${c.dir}" (step ${c.saved}) stays`;
  return `Nothing non-finite was saved: ${kept}. Lower the learning rate, then resume or retrain.`;
}

/**
 * Throws when a measured value of a step is NaN or ±Inf.
 * @param step The step the values belong to.
 * @param values Name → value (e.g. `{ loss, "gradient norm": g }`).
 * @param context The run.
 * @throws {NonFiniteError} Naming the step and the values.
 */
export function guardStep(
  step: number,
  values: Readonly<Record<string, number>>,
  context: GuardContext,
): void {
  const all = Object.entries(values);
  if (all.every(([, v]) => Number.isFinite(v))) return;
  const shown = all.map(([k, v]) => `${k} ${v}`).join(", ");
  throw new NonFiniteError(
    `${context.what} diverged at step ${step} (${shown}). ${advice(context)}`,
  );
}

/**
 * Runs a checkpoint write; a {@linkcode NonFiniteError} from it (non-finite weights found while
 * writing, nothing written) becomes a divergence error naming the step.
 * @param step The step being saved.
 * @param context The run.
 * @param save The write.
 */
export async function guardSave<T>(
  step: number,
  context: GuardContext,
  save: () => Promise<T>,
): Promise<T> {
  try {
    return await save();
  } catch (e) {
    if (!(e instanceof NonFiniteError)) throw e;
    throw new NonFiniteError(
      `${context.what} diverged by step ${step}: ${e.message}. ${advice(context)}`,
    );
  }
}

/**
 * Explains a failed step: when the trained module's weights are no longer finite, the failure
 * (e.g. a factorisation that met NaN) is a divergence and is reported as one, naming the step;
 * any other error is rethrown as it is.
 * @param step The step that failed.
 * @param context The run.
 * @param error What the step threw.
 * @param module The module being trained (read back only here, after a failure).
 * @returns Never: it always throws.
 */
export async function guardFailure(
  step: number,
  context: GuardContext,
  error: unknown,
  module: Module,
): Promise<never> {
  const entries = [...module.stateDict()];
  const values = await Promise.all(entries.map(([, t]) => t.toArray()));
  const bad = entries.map(([name], i) => describeNonFinite(`parameter "${name}"`, values[i]))
    .filter((d) => d !== null);
  if (bad.length === 0) throw error;
  throw new NonFiniteError(
    `${context.what} diverged by step ${step}: ${bad[0]} (${(error as Error).message}). ${
      advice(context)
    }`,
  );
}

/**
 * Writes the run's checkpoint of `step` (see `writeCheckpoint`) under {@linkcode guardSave}, and
 * records it as the last good one.
 * @param context The run (its folder; `saved` is updated).
 * @param step The step.
 * @param write Fills the checkpoint folder.
 */
export async function saveGuarded(
  context: GuardContext,
  step: number,
  write: (folder: string) => Promise<void>,
): Promise<void> {
  await guardSave(step, context, () => writeCheckpoint(context.dir, step, write));
  context.saved = step;
}
