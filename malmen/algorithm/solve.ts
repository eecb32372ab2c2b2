/**
 * MALMEN's aggregation of per-token value differences into one weight shift per edited module
 * (design §1.5, §1.7, §1.8): the differentiable {@linkcode ridgeSolve} op, the streaming
 * {@linkcode RidgeAccumulator} with its closed-form backward for the memory-bounded schedule,
 * the MEND sum baseline, and the Cholesky factorisations behind them.
 * @module
 */
export { chooseForm, lamHatGradient, ridgeSolve } from "./ridge_solve.ts";
export type { RidgeForm, RidgeSolveOptions } from "./ridge_solve.ts";
export {
  DEFAULT_RIDGE_SOLVER,
  RidgeAccumulator,
  RidgeBackward,
  RidgeSolution,
} from "./ridge_accumulator.ts";
export type { LamHatSource, RidgeAccumulatorOptions, RidgeSolver } from "./ridge_accumulator.ts";
export { MendSumAccumulator } from "./sum_baseline.ts";
export { cholesky64, solve64, solveRows64, transpose64 } from "./linalg/cholesky64.ts";
export type { Cholesky64 } from "./linalg/cholesky64.ts";
export { factorGpu, solveGpu } from "./linalg/cholesky_gpu.ts";
export type { GpuCholesky, Shift } from "./linalg/cholesky_gpu.ts";
export { factorSpd } from "./linalg/spd.ts";
export type { SpdFactor } from "./linalg/spd.ts";
