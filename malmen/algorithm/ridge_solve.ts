/**
 * The MALMEN least-squares aggregation as a differentiable op:
 * `ΔW = (KᵀK + λI)⁻¹KᵀD = Kᵀ(KKᵀ + λI)⁻¹D`, λ = e^λ̂. Keys K are data: no gradient flows to
 * them; the value differences D and λ̂ receive the closed-form gradients. Used by the
 * plain-autograd end-to-end check; the memory-bounded training path streams through
 * {@linkcode RidgeAccumulator} instead.
 * @module
 */
import { record } from "../../engine/autograd.ts";
import { noGrad } from "../../engine/autograd.ts";
import { addInto, elementwise } from "../../engine/ops/elementwise.ts";
import { matmul } from "../../engine/ops/matmul.ts";
import { reduceRaw } from "../../engine/ops/reduce.ts";
import { fmtShape } from "../../engine/shape.ts";
import type { Tensor } from "../../engine/tensor.ts";
import { factorSpd, type SpdFactor } from "./linalg/spd.ts";

/** Which linear system the ridge solve factors. */
export type RidgeForm = "primal" | "dual";

/** Options of {@linkcode ridgeSolve}. */
export interface RidgeSolveOptions {
  /** `primal` (d_in × d_in system), `dual` (n × n) or `auto` (default: dual when n < d_in). */
  form?: RidgeForm | "auto";
  /**
   * A fixed `[d_in, d_in]` matrix P inside the inverse: ΔW = (KᵀK + P + λI)⁻¹KᵀD (primal form
   * only; it receives no gradient).
   */
  prior?: Tensor;
}

/**
 * The cheaper exact form for n keys of dimension d_in: the dual n × n system when n < d_in.
 * @param n Number of keys.
 * @param dIn Key dimension.
 */
export function chooseForm(n: number, dIn: number): RidgeForm {
  return n < dIn ? "dual" : "primal";
}

/**
 * Checks the operands of a ridge solve.
 * @param keys `[n, d_in]`.
 * @param values `[n, d_out]`.
 * @param op Name for messages.
 */
export function checkKeysValues(keys: Tensor, values: Tensor, op: string): void {
  keys.assertLive(op);
  values.assertLive(op);
  if (keys.dtype !== "float32" || values.dtype !== "float32") {
    throw new TypeError(`${op}() needs float keys and values`);
  }
  if (keys.rank !== 2 || values.rank !== 2 || keys.shape[0] !== values.shape[0]) {
    throw new RangeError(
      `Cannot ${op} keys "${fmtShape(keys.shape)}" with values "${
        fmtShape(values.shape)
      }": both must be 2-D with the same number of rows`,
    );
  }
  if (keys.backend !== values.backend) {
    throw new TypeError(`${op}() got keys and values on different backends`);
  }
}

/**
 * `−e^λ̂ · ⟨a, b⟩_F` shaped like λ̂, without autograd and without readback.
 * @param a Left matrix.
 * @param b Right matrix (same shape).
 * @param lamHat Log-domain λ (one element).
 * @returns The λ̂ gradient.
 */
export function lamHatGradient(a: Tensor, b: Tensor, lamHat: Tensor): Tensor {
  const prod = elementwise("mul", [a, b]);
  const dot = reduceRaw(prod, a.shape.map((_, i) => i), "sum");
  prod.dispose();
  const lam = elementwise("exp", [lamHat]);
  const scaled = elementwise("mul", [lam, dot]);
  const out = elementwise("neg", [scaled]);
  for (const t of [dot, lam, scaled]) t.dispose();
  return out;
}

/**
 * Ridge regression of value differences on keys: the single weight shift (io layout,
 * `[d_in, d_out]`) that maps every key to its target, with ridge λ = e^λ̂.
 * Backward (the solve's closed form, so no graph through the factorisation), with M = KᵀK + λI, X = M⁻¹G: ∂L/∂D = K·X and ∂L/∂λ̂ = −λ⟨X, ΔW⟩ (primal);
 * ∂L/∂D = (KKᵀ + λI)⁻¹KG and ∂L/∂λ̂ = −λ⟨∂L/∂D, (KKᵀ + λI)⁻¹D⟩ (dual). Keys get no gradient.
 * @param keys K `[n, d_in]` (data).
 * @param values D `[n, d_out]`.
 * @param lamHat λ̂, one element (e.g. a `[1]` slice of the per-module table).
 * @param options `form` (default auto).
 * @returns ΔW `[d_in, d_out]`.
 */
export function ridgeSolve(
  keys: Tensor,
  values: Tensor,
  lamHat: Tensor,
  options: RidgeSolveOptions = {},
): Tensor {
  checkKeysValues(keys, values, "ridgeSolve");
  lamHat.assertLive("ridgeSolve");
  if (lamHat.size !== 1 || lamHat.dtype !== "float32") {
    throw new RangeError(
      `ridgeSolve() needs a one-element float lamHat, got "${fmtShape(lamHat.shape)}"`,
    );
  }
  if (lamHat.backend !== keys.backend) {
    throw new TypeError("ridgeSolve() got keys and lamHat on different backends");
  }
  const [n, dIn] = keys.shape;
  const prior = options.prior ?? null;
  if (prior !== null && (prior.rank !== 2 || prior.shape[0] !== dIn || prior.shape[1] !== dIn)) {
    throw new RangeError(
      `ridgeSolve() prior must be "[${dIn},${dIn}]", got "${fmtShape(prior.shape)}"`,
    );
  }
  const requested = options.form ?? (prior === null ? "auto" : "primal");
  const form = requested === "auto" ? chooseForm(n, dIn) : requested;
  if (prior !== null && form === "dual") throw new RangeError("ridgeSolve() prior needs primal");
  return form === "primal" ? primal(keys, values, lamHat, prior) : dual(keys, values, lamHat);
}

function primal(keys: Tensor, values: Tensor, lamHat: Tensor, prior: Tensor | null): Tensor {
  const { factor, out } = noGrad(() => {
    const gram = matmul(keys, keys, { transA: true });
    if (prior !== null) addInto(gram, prior);
    const rhs = matmul(keys, values, { transA: true });
    const factor: SpdFactor = factorSpd(gram, { lamHat });
    gram.dispose();
    const out = factor.solve(rhs);
    rhs.dispose();
    return { factor, out };
  });
  record(out, "ridgeSolve", [keys, values, lamHat], (g) => {
    const x = factor.solve(g);
    const gD = values.requiresGrad ? matmul(keys, x) : null;
    const gL = lamHat.requiresGrad ? lamHatGradient(x, out, lamHat) : null;
    x.dispose();
    factor.dispose();
    return [null, gD, gL];
  });
  if (out.node === null) factor.dispose();
  return out;
}

function dual(keys: Tensor, values: Tensor, lamHat: Tensor): Tensor {
  const { factor, alpha, out } = noGrad(() => {
    const gram = matmul(keys, keys, { transB: true });
    const factor: SpdFactor = factorSpd(gram, { lamHat });
    gram.dispose();
    const alpha = factor.solve(values);
    const out = matmul(keys, alpha, { transA: true });
    return { factor, alpha, out };
  });
  record(out, "ridgeSolve", [keys, values, lamHat], (g) => {
    const kg = matmul(keys, g);
    const gD = factor.solve(kg);
    kg.dispose();
    const gL = lamHat.requiresGrad ? lamHatGradient(gD, alpha, lamHat) : null;
    alpha.dispose();
    factor.dispose();
    if (!values.requiresGrad) {
      gD.dispose();
      return [null, null, gL];
    }
    return [null, gD, gL];
  });
  if (out.node === null) {
    factor.dispose();
    alpha.dispose();
  }
  return out;
}
