/**
 * The streaming ridge solve of the memory-bounded MALMEN schedule (phases B and D, see
 * `scheduler.ts`):
 * keys K and value differences D arrive chunk by chunk; the primal Gram matrices KᵀK and KᵀD
 * are accumulated on the device so all keys never need to be resident at once. While fewer rows
 * than d_in have arrived the chunks themselves are kept (no larger than the d_in × d_in Gram)
 * so the cheaper dual n × n system can be solved instead.
 *
 * Where the Cholesky factorisation runs is a choice ({@linkcode RidgeSolver}): `device` runs the
 * blocked float32 kernels and never reads back (the default); `host` reads the Gram back once and
 * factors it in float64 TypeScript. Measured with `bench/dev/ridge_solve.ts` on the software
 * adapter (llvmpipe, 2 shared cores; best of 3; solve / backward; GELU keys, d_out = d_in / 4,
 * λ = 1):
 * - d_in 512, n 576 (primal): host 100 / 67 ms, device 50 / 23 ms;
 * - d_in 512, n 256 (dual): host 110 / 38 ms, device 89 / 19 ms;
 * - d_in 3072, n 3136 (primal): host 6.1 / 3.2 s, device 3.3 / 1.8 s;
 * - d_in 3072, n 1536 (dual): host 2.5 / 1.3 s, device 1.9 / 0.8 s.
 * Accuracy is the same to within 2.5×: normal-equation residuals 4e-6–6e-5 and forward errors
 * (vs a float64 solve of the same keys) 4e-6–4e-5 (512) and 2e-5–5e-4 (3072) for both, because
 * the float32 Gram accumulation, not the factorisation, dominates the error. The host path stays
 * available (e.g. to get a clear error instead of NaN when a badly conditioned system loses
 * definiteness).
 * @module
 */
import { noGrad } from "../../engine/autograd.ts";
import { upload } from "../../engine/alloc.ts";
import type { Backend } from "../../engine/backend.ts";
import { concat } from "../../engine/ops/concat.ts";
import { alias, materialize, view } from "../../engine/ops/copy.ts";
import { addInto, mul, sub } from "../../engine/ops/elementwise.ts";
import { sum } from "../../engine/ops/reduce.ts";
import { matmul } from "../../engine/ops/matmul.ts";
import { keep, tidy } from "../../engine/scope.ts";
import { fmtShape } from "../../engine/shape.ts";
import type { Tensor } from "../../engine/tensor.ts";
import { type Cholesky64, cholesky64, solve64 } from "./linalg/cholesky64.ts";
import { factorSpd, type SpdFactor } from "./linalg/spd.ts";
import { checkKeysValues, chooseForm, lamHatGradient, type RidgeForm } from "./ridge_solve.ts";

/** Where the Cholesky factorisation and the triangular solves run. */
export type RidgeSolver = "host" | "device";

/** Options of {@linkcode RidgeAccumulator}. */
export interface RidgeAccumulatorOptions {
  /** `auto` (default: dual while n < d_in), or force one form. */
  form?: RidgeForm | "auto";
  /** `device` (float32 kernels, no readback; default) or `host` (float64 TypeScript). */
  solver?: RidgeSolver;
  /** Also accumulate ‖D‖² so {@linkcode RidgeAccumulator.fit} can be asked (default false). */
  trackFit?: boolean;
  /**
   * A fixed symmetric positive semi-definite `[d_in, d_in]` matrix P added to the system, so
   * ΔW = (KᵀK + P + λI)⁻¹KᵀD (MEMIT-style preservation: with P = μ·E[uuᵀ] over the model's own
   * text, directions the model uses often cost more to change). Forces the primal form; the
   * closed-form backward is unchanged because P depends on nothing that is trained. Not owned:
   * keep it alive while the accumulator is used.
   */
  prior?: Tensor;
}

/** The default solver location, chosen by measurement (see the module notes). */
export const DEFAULT_RIDGE_SOLVER: RidgeSolver = "device";

/** λ as a number or as a one-element log-domain tensor (λ = e^λ̂, read where needed). */
export type LamHatSource = number | Tensor;

async function lamHatValue(lamHat: LamHatSource): Promise<number> {
  return typeof lamHat === "number" ? lamHat : (await lamHat.toArray())[0];
}

function lamHatTensor(lamHat: LamHatSource, backend: Backend): Tensor {
  return typeof lamHat === "number" ? upload([lamHat], [1], "float32", backend) : alias(lamHat);
}

/** Accumulates keys and value differences of one edited module, then solves for ΔW. */
export class RidgeAccumulator {
  /** Key dimension. */
  readonly dIn: number;
  /** Value dimension. */
  readonly dOut: number;
  /** Where the solve runs. */
  readonly solver: RidgeSolver;
  readonly #form: RidgeForm | "auto";
  readonly #trackFit: boolean;
  readonly #prior: Tensor | null;
  #rows = 0;
  #chunks: { keys: Tensor; values: Tensor }[] = [];
  #gram: Tensor | null = null;
  #rhs: Tensor | null = null;
  /** ‖D‖² of the rows folded into the Gram matrices `[1]` (primal form). */
  #valueSq: Tensor | null = null;
  #backend: Backend | null = null;

  /**
   * Creates an empty accumulator.
   * @param dIn Key dimension d_in.
   * @param dOut Value dimension d_out.
   * @param options Form and solver location.
   */
  constructor(dIn: number, dOut: number, options: RidgeAccumulatorOptions = {}) {
    this.dIn = dIn;
    this.dOut = dOut;
    this.#form = options.form ?? "auto";
    this.solver = options.solver ?? DEFAULT_RIDGE_SOLVER;
    this.#trackFit = options.trackFit ?? false;
    this.#prior = options.prior ?? null;
    if (this.#prior !== null) {
      const p = this.#prior.shape;
      if (p.length !== 2 || p[0] !== dIn || p[1] !== dIn) {
        throw new RangeError(
          `A ridge prior must be "[${dIn},${dIn}]" for keys of width ${dIn}, got "${fmtShape(p)}"`,
        );
      }
      if (this.#form === "dual") throw new RangeError("A ridge prior needs the primal form");
    }
  }

  /** Rows added so far (n). */
  get rows(): number {
    return this.#rows;
  }

  /** The form the solve will use for the rows added so far. */
  get form(): RidgeForm {
    if (this.#prior !== null) return "primal";
    return this.#form === "auto" ? chooseForm(this.#rows, this.dIn) : this.#form;
  }

  /**
   * Adds a chunk of rows (no autograd). The chunk may be disposed afterwards but not overwritten:
   * while n < d_in (dual form) the accumulator keeps a reference to it, not a copy.
   * @param keys `[c, d_in]`.
   * @param values `[c, d_out]`.
   */
  add(keys: Tensor, values: Tensor): void {
    checkKeysValues(keys, values, "accumulate");
    if (keys.shape[1] !== this.dIn || values.shape[1] !== this.dOut) {
      throw new RangeError(
        `Cannot accumulate keys "${fmtShape(keys.shape)}" and values "${
          fmtShape(values.shape)
        }" into a "[${this.dIn},${this.dOut}]" ridge solve`,
      );
    }
    if (this.#backend !== null && keys.backend !== this.#backend) {
      throw new TypeError("accumulate() got chunks on different backends");
    }
    this.#backend = keys.backend;
    this.#rows += keys.shape[0];
    if (this.form === "dual") {
      this.#chunks.push({ keys: keep(alias(keys)), values: keep(alias(values)) });
      return;
    }
    for (const c of this.#chunks.splice(0)) {
      this.#accumulate(c.keys, c.values);
      c.keys.dispose();
      c.values.dispose();
    }
    this.#accumulate(keys, values);
  }

  #accumulate(keys: Tensor, values: Tensor): void {
    noGrad(() => {
      if (this.#trackFit) {
        const sq = tidy(() => sum(mul(values, values)));
        if (this.#valueSq === null) this.#valueSq = keep(sq);
        else {
          addInto(this.#valueSq, sq);
          sq.dispose();
        }
      }
      const kk = matmul(keys, keys, { transA: true });
      const kd = matmul(keys, values, { transA: true });
      if (this.#gram === null) {
        if (this.#prior !== null) addInto(kk, this.#prior);
        this.#gram = keep(kk);
        this.#rhs = keep(kd);
        return;
      }
      addInto(this.#gram, kk);
      addInto(this.#rhs!, kd);
      kk.dispose();
      kd.dispose();
    });
  }

  /**
   * Solves for ΔW = (KᵀK + λI)⁻¹KᵀD (plus the prior P inside the inverse, when given). The accumulator stays usable (more rows may be added and
   * solved again).
   * @param lamHat λ̂ (λ = e^λ̂): a number, or a one-element tensor (e.g. the module's entry of
   *   the hyper-network's λ̂ table, read on the device or in the same readback as the Gram).
   * @returns The solution, which holds what the closed-form backward needs.
   */
  async solve(lamHat: LamHatSource): Promise<RidgeSolution> {
    if (this.#rows === 0 || this.#backend === null) {
      throw new RangeError("Cannot solve a ridge regression without rows");
    }
    const backend = this.#backend;
    if (this.form === "dual") {
      const keys = noGrad(() => concat(this.#chunks.map((c) => c.keys)));
      const values = noGrad(() => concat(this.#chunks.map((c) => c.values)));
      const gram = noGrad(() => matmul(keys, keys, { transB: true }));
      const state = await factorAndSolve(gram, values, lamHat, this.solver, backend);
      gram.dispose();
      values.dispose();
      const dW = noGrad(() => matmul(keys, state.x, { transA: true }));
      return new RidgeSolution("dual", dW, state, lamHat, backend, keys);
    }
    const state = await factorAndSolve(this.#gram!, this.#rhs!, lamHat, this.solver, backend);
    const dW = alias(state.x);
    return new RidgeSolution("primal", dW, state, lamHat, backend, null);
  }

  /**
   * How well one ΔW serves every row: the relative residual ‖KΔW − D‖ / ‖D‖ of the rows added
   * so far (0 = every requested value change is delivered; near 1 = almost none). Once there
   * are more rows than d_in the system is over-determined and the residual cannot vanish. One
   * readback; the primal form uses the accumulated Gram matrices (create the accumulator with
   * `trackFit`), the dual form the kept rows.
   * @param solution A solve of this accumulator's rows.
   */
  async fit(solution: RidgeSolution): Promise<number> {
    if (this.#rows === 0) throw new RangeError("Cannot measure the fit of a solve without rows");
    if (this.form === "primal" && !this.#trackFit) {
      throw new Error("fit() needs an accumulator created with { trackFit: true }");
    }
    const dW = solution.deltaW;
    const parts = noGrad(() =>
      tidy(() => {
        if (this.form === "dual") {
          const keys = concat(this.#chunks.map((c) => c.keys));
          const values = concat(this.#chunks.map((c) => c.values));
          const r = sub(matmul(keys, dW), values);
          return [sum(mul(r, r)), sum(mul(values, values))];
        }
        // ‖KΔW − D‖² = ‖D‖² − 2⟨ΔW, KᵀD⟩ + ⟨ΔW, KᵀK ΔW⟩ (the Gram holds KᵀK + P).
        const quad = sum(mul(dW, matmul(this.#gram!, dW)));
        const kk = this.#prior === null ? quad : sub(quad, sum(mul(dW, matmul(this.#prior, dW))));
        return [kk, sum(mul(dW, this.#rhs!))];
      })
    );
    const v = await Promise.all(
      [...parts, ...(this.form === "dual" ? [] : [this.#valueSq!])].map((t) => t.toArray()),
    );
    for (const t of parts) t.dispose();
    const [res2, d2] = this.form === "dual"
      ? [v[0][0], v[1][0]]
      : [v[0][0] - 2 * v[1][0] + v[2][0], v[2][0]];
    return d2 > 0 ? Math.sqrt(Math.max(0, res2) / d2) : 0;
  }

  /** Releases the accumulated Gram matrices or chunks. */
  dispose(): void {
    this.#valueSq?.dispose();
    this.#valueSq = null;
    for (const c of this.#chunks.splice(0)) {
      c.keys.dispose();
      c.values.dispose();
    }
    this.#gram?.dispose();
    this.#rhs?.dispose();
    this.#gram = null;
    this.#rhs = null;
  }
}

/** A factorisation plus the solution X of its system (float64 copies on the host path). */
interface Solved {
  /** X on the device. */
  x: Tensor;
  /** Device factor (device path). */
  device: SpdFactor | null;
  /** Host factor and float64 X (host path). */
  host: { f: Cholesky64; x: Float64Array; lam: number } | null;
}

async function factorAndSolve(
  m: Tensor,
  rhs: Tensor,
  lamHat: LamHatSource,
  solver: RidgeSolver,
  backend: Backend,
): Promise<Solved> {
  if (solver === "device" || backend.kind === "cpu") {
    const lam = lamHatTensor(lamHat, backend);
    const device = factorSpd(m, { lamHat: lam });
    device.retain();
    lam.dispose();
    return { x: keep(device.solve(rhs)), device, host: null };
  }
  const [mv, bv, lh] = await Promise.all([m.toArray(), rhs.toArray(), lamHatValue(lamHat)]);
  const n = m.shape[0];
  const lam = Math.exp(lh);
  const a = Float64Array.from(mv);
  for (let i = 0; i < n; i++) a[i * n + i] += lam;
  const f = cholesky64(a, n);
  const x = solve64(f, bv, rhs.shape[1]);
  return { x: keep(upload(x, rhs.shape, "float32", backend)), device: null, host: { f, x, lam } };
}

/** ΔW of one module plus what phase D needs. */
export class RidgeSolution {
  /** Which system was solved. */
  readonly form: RidgeForm;
  /** ΔW `[d_in, d_out]` (io layout); owned by this object. */
  readonly deltaW: Tensor;
  readonly #solved: Solved;
  readonly #lamHat: LamHatSource;
  readonly #backend: Backend;
  readonly #keys: Tensor | null;

  /**
   * Wraps a solve (use {@linkcode RidgeAccumulator.solve}).
   * @param form Which system.
   * @param deltaW ΔW.
   * @param solved Factor and X (primal: X = ΔW; dual: X = α = (KKᵀ + λI)⁻¹D).
   * @param lamHat λ̂ as given to the solve.
   * @param backend Backend of the tensors.
   * @param keys All keys `[n, d_in]` (dual only).
   */
  constructor(
    form: RidgeForm,
    deltaW: Tensor,
    solved: Solved,
    lamHat: LamHatSource,
    backend: Backend,
    keys: Tensor | null,
  ) {
    this.form = form;
    this.deltaW = keep(deltaW);
    this.#solved = solved;
    this.#lamHat = typeof lamHat === "number" ? lamHat : keep(alias(lamHat));
    this.#backend = backend;
    this.#keys = keys === null ? null : keep(keys);
  }

  /**
   * The closed-form backward of the solve for G = ∂L/∂ΔW: with X = M⁻¹G, ∂L/∂D = K·X and
   * ∂L/∂λ̂ = −λ⟨X, ΔW⟩ (primal); the dual form solves with KKᵀ + λI instead.
   * @param grad G `[d_in, d_out]`.
   * @returns Per-chunk ∂L/∂D and ∂L/∂λ̂.
   */
  async backward(grad: Tensor): Promise<RidgeBackward> {
    grad.assertLive("back-propagate");
    const [dIn, dOut] = this.deltaW.shape;
    if (grad.rank !== 2 || grad.shape[0] !== dIn || grad.shape[1] !== dOut) {
      throw new RangeError(
        `Cannot back-propagate "${fmtShape(grad.shape)}" through a "[${dIn},${dOut}]" ridge solve`,
      );
    }
    const s = this.#solved;
    const backend = this.#backend;
    // Primal: the right-hand side is G itself; dual: K·G.
    const rhs = this.form === "primal" ? grad : noGrad(() => matmul(this.#keys!, grad));
    let y: Tensor;
    let gLam: Tensor;
    if (s.device !== null) {
      y = keep(s.device.solve(rhs));
      const lam = lamHatTensor(this.#lamHat, backend);
      gLam = keep(lamHatGradient(y, s.x, lam));
      lam.dispose();
    } else {
      const host = s.host!;
      const yv = solve64(host.f, await rhs.toArray(), dOut);
      let dot = 0;
      for (let i = 0; i < yv.length; i++) dot += yv[i] * host.x[i];
      y = keep(upload(yv, rhs.shape, "float32", backend));
      gLam = keep(upload([-host.lam * dot], [1], "float32", backend));
    }
    if (rhs !== grad) rhs.dispose();
    return new RidgeBackward(this.form, y, gLam);
  }

  /** Releases ΔW, the factor and the saved tensors. */
  dispose(): void {
    this.deltaW.dispose();
    this.#solved.x.dispose();
    this.#solved.device?.dispose();
    this.#keys?.dispose();
    if (typeof this.#lamHat !== "number") this.#lamHat.dispose();
  }
}

/** ∂L/∂D per chunk of rows and ∂L/∂λ̂ of one module. */
export class RidgeBackward {
  /** Form of the solve. */
  readonly form: RidgeForm;
  /** ∂L/∂λ̂ `[1]` (add it to the module's entry of the λ̂ gradient). */
  readonly gradLamHat: Tensor;
  // Primal: X = M⁻¹G [d_in, d_out]; dual: ∂L/∂D for all rows [n, d_out].
  readonly #y: Tensor;

  /**
   * Wraps the backward state (use {@linkcode RidgeSolution.backward}).
   * @param form Form of the solve.
   * @param y X (primal) or all of ∂L/∂D (dual).
   * @param gradLamHat ∂L/∂λ̂.
   */
  constructor(form: RidgeForm, y: Tensor, gradLamHat: Tensor) {
    this.form = form;
    this.#y = y;
    this.gradLamHat = gradLamHat;
  }

  /**
   * ∂L/∂D for a chunk of rows: K_chunk·X (primal) or the chunk's rows of the dual solution.
   * @param start Index of the chunk's first row in the order the rows were added.
   * @param keys The chunk's keys `[c, d_in]`.
   * @returns ∂L/∂D `[c, d_out]` (a new tensor, no autograd).
   */
  gradValues(start: number, keys: Tensor): Tensor {
    keys.assertLive("back-propagate");
    const c = keys.shape[0];
    if (this.form === "primal") return noGrad(() => matmul(keys, this.#y));
    const [n, dOut] = this.#y.shape;
    if (!(Number.isInteger(start) && start >= 0 && start + c <= n)) {
      throw new RangeError(`Rows [${start}, ${start + c}) are out of range for ${n} rows`);
    }
    const part = view(this.#y, [c, dOut], [dOut, 1], start * dOut);
    const out = materialize(part);
    if (out === part) return out;
    part.dispose();
    return out;
  }

  /** Releases the saved tensors. */
  dispose(): void {
    this.#y.dispose();
    this.gradLamHat.dispose();
  }
}
