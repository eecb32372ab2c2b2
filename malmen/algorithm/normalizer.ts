/**
 * The running mean/std normaliser of one MALMEN hyper-network: statistics over
 * z = [u; δ] (keys concatenated with value-gradients), updated batch by batch with the
 * reference code's formula (including its b·s² term), applied as (z − μ)/(σ + ε).
 *
 * Freezing: the reference code keeps updating the statistics during validation and at edit
 * time, and a single-row batch then gives a NaN variance. Here `frozen` makes {@linkcode RunningNormalizer.update} a no-op; the intended
 * use is to update while meta-training and set `frozen = true` afterwards (validation and
 * editing), so an edit never depends on which facts were edited before. Leave it unfrozen to
 * reproduce the reference numbers instead.
 * @module
 */
import { empty, upload } from "../../engine/alloc.ts";
import type { Backend } from "../../engine/backend.ts";
import { getBackend } from "../../engine/backend.ts";
import { cpuValues } from "../../engine/ops/cpu_iter.ts";
import { materialize } from "../../engine/ops/copy.ts";
import { keep } from "../../engine/scope.ts";
import { fmtShape } from "../../engine/shape.ts";
import type { Tensor } from "../../engine/tensor.ts";
import { grid1d, Uniforms } from "../../kernels/common.ts";
import { NORM_EPS, normApplyWgsl, normUpdateWgsl } from "../../kernels/malmen/normalizer.ts";

export { NORM_EPS } from "../../kernels/malmen/normalizer.ts";

/** The statistics as host values (a checkpoint entry). */
export interface NormalizerState {
  /** Rows seen, N. */
  count: number;
  /** Running mean μ `[D]`. */
  mean: ArrayLike<number>;
  /** Sum of squared deviations M `[D]` (the reference code's "var" buffer). */
  m2: ArrayLike<number>;
  /** Standard deviation σ `[D]`. */
  std: ArrayLike<number>;
}

/** Options of {@linkcode RunningNormalizer}. */
export interface NormalizerOptions {
  /** Backend of the statistics (default: the current backend). */
  backend?: Backend;
}

/** Running statistics over z = [u; δ] of one (d_in, d_out) shape. */
export class RunningNormalizer {
  /** Key dimension. */
  readonly dIn: number;
  /** Value-gradient dimension. */
  readonly dOut: number;
  /** When true, {@linkcode RunningNormalizer.update} does nothing (set after meta-training). */
  frozen = false;
  readonly #state: Tensor;
  #count = 0;

  /**
   * Creates zeroed statistics (N = 0, μ = M = σ = 0).
   * @param dIn Key dimension d_in.
   * @param dOut Value-gradient dimension d_out.
   */
  constructor(dIn: number, dOut: number, options: NormalizerOptions = {}) {
    this.dIn = dIn;
    this.dOut = dOut;
    const d = dIn + dOut;
    this.#state = keep(
      upload(new Float64Array(3 * d), [3, d], "float32", options.backend ?? getBackend()),
    );
  }

  /** D = d_in + d_out. */
  get dim(): number {
    return this.dIn + this.dOut;
  }

  /** Rows seen so far, N. */
  get count(): number {
    return this.#count;
  }

  /** Backend of the statistics. */
  get backend(): Backend {
    return this.#state.backend;
  }

  /**
   * The live `[3, D]` statistics tensor (rows μ, M, σ). Do not dispose.
   */
  stateTensor(): Tensor {
    return this.#state;
  }

  #check(keys: Tensor, grads: Tensor, op: string): void {
    keys.assertLive(op);
    grads.assertLive(op);
    if (
      keys.rank !== 2 || grads.rank !== 2 || keys.shape[1] !== this.dIn ||
      grads.shape[1] !== this.dOut || keys.shape[0] !== grads.shape[0]
    ) {
      throw new RangeError(
        `Cannot ${op} keys "${fmtShape(keys.shape)}" and value-gradients "${
          fmtShape(grads.shape)
        }" with a "[${this.dIn}+${this.dOut}]" normaliser`,
      );
    }
    if (keys.dtype !== "float32" || grads.dtype !== "float32") {
      throw new TypeError(`${op}() needs float keys and value-gradients`);
    }
    if (keys.backend !== this.backend || grads.backend !== this.backend) {
      throw new TypeError(`${op}() got tensors on another backend than the normaliser`);
    }
  }

  /**
   * Folds a batch of b rows into the statistics (no-op when frozen or b = 0). A single row
   * counts with s² = 0 (the reference code would produce NaN).
   * @param keys u rows `[b, d_in]`.
   * @param grads δ rows `[b, d_out]`.
   */
  update(keys: Tensor, grads: Tensor): void {
    this.#check(keys, grads, "update");
    const b = keys.shape[0];
    if (this.frozen || b === 0) return;
    const n = this.#count;
    const backend = this.backend;
    if (backend.kind === "cpu") {
      updateRef(
        cpuValues(keys),
        cpuValues(grads),
        b,
        this.dIn,
        this.dOut,
        n,
        this.#state.storage.array as Float64Array,
        this.#state.offset,
      );
    } else {
      const [u, v] = [materialize(keys), materialize(grads)];
      backend.dispatcher.run({
        key: "malmen:norm:update",
        wgsl: normUpdateWgsl,
        uniforms: new Uniforms().u32(b, this.dIn, this.dOut, u.offset, v.offset).f32(n, NORM_EPS)
          .u32(this.#state.offset).words,
        inputs: [u.binding(), v.binding()],
        outputs: [this.#state.binding()],
        workgroups: grid1d(this.dim),
      });
      if (u !== keys) u.dispose();
      if (v !== grads) v.dispose();
    }
    this.#count = n + b;
  }

  /**
   * The normalised rows ẑ = ([u; δ] − μ)/(σ + ε) as one dense `[n, D]` tensor. No autograd: u
   * and δ are data and the statistics are buffers.
   * @param keys u rows `[n, d_in]`.
   * @param grads δ rows `[n, d_out]`.
   * @returns ẑ `[n, D]`.
   */
  normalize(keys: Tensor, grads: Tensor): Tensor {
    this.#check(keys, grads, "normalize");
    const rows = keys.shape[0];
    const d = this.dim;
    const backend = this.backend;
    const out = empty([rows, d], "float32", backend);
    if (rows === 0) return out;
    if (backend.kind === "cpu") {
      const u = cpuValues(keys), v = cpuValues(grads);
      const s = cpuValues(this.#state);
      const o = out.storage.array as Float64Array;
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < d; c++) {
          const z = c < this.dIn ? u[r * this.dIn + c] : v[r * this.dOut + c - this.dIn];
          o[r * d + c] = (z - s[c]) / (s[2 * d + c] + NORM_EPS);
        }
      }
      return out;
    }
    const [u, v] = [materialize(keys), materialize(grads)];
    backend.dispatcher.run({
      key: "malmen:norm:apply",
      wgsl: normApplyWgsl,
      uniforms: new Uniforms().u32(rows, this.dIn, this.dOut, u.offset, v.offset, 0)
        .f32(NORM_EPS).u32(this.#state.offset).words,
      inputs: [u.binding(), v.binding(), this.#state.binding()],
      outputs: [out.binding()],
      workgroups: grid1d(rows * d),
    });
    if (u !== keys) u.dispose();
    if (v !== grads) v.dispose();
    return out;
  }

  /**
   * Reads the statistics back (one batched readback).
   * @returns Count, μ, M and σ as host values.
   */
  async saveState(): Promise<NormalizerState> {
    const d = this.dim;
    const all = await this.#state.toArray();
    return {
      count: this.#count,
      mean: Float64Array.from(all.subarray(0, d)),
      m2: Float64Array.from(all.subarray(d, 2 * d)),
      std: Float64Array.from(all.subarray(2 * d, 3 * d)),
    };
  }

  /**
   * Overwrites the statistics (the `frozen` flag is left as it is).
   * @param state Values from {@linkcode RunningNormalizer.saveState} (or a checkpoint).
   */
  loadState(state: NormalizerState): void {
    const d = this.dim;
    for (
      const [name, values] of [["mean", state.mean], ["m2", state.m2], ["std", state.std]] as const
    ) {
      if (values.length !== d) {
        throw new RangeError(
          `Cannot load normaliser ${name} of ${values.length} values into D = ${d}`,
        );
      }
    }
    if (!(Number.isInteger(state.count) && state.count >= 0)) {
      throw new RangeError(`Cannot load a normaliser count of ${state.count}`);
    }
    const all = new Float64Array(3 * d);
    all.set(Array.from(state.mean), 0);
    all.set(Array.from(state.m2), d);
    all.set(Array.from(state.std), 2 * d);
    const backend = this.backend;
    if (backend.kind === "cpu") {
      (this.#state.storage.array as Float64Array).set(all, this.#state.offset);
    } else {
      backend.dispatcher.flush();
      backend.dispatcher.device.queue.writeBuffer(
        this.#state.storage.buffer!,
        this.#state.offset * 4,
        Float32Array.from(all),
      );
    }
    this.#count = state.count;
  }

  /** Releases the statistics. */
  dispose(): void {
    this.#state.dispose();
  }
}

/**
 * The float64 reference of the batched update (the reference code's formula), in place on `[3, D]` state values.
 * @param u Keys, row-major `[b, dIn]`.
 * @param v Value-gradients, row-major `[b, dOut]`.
 * @param dIn Key dimension.
 * @param dOut Value-gradient dimension.
 * @param count Rows seen before, N.
 * @param state μ, M, σ rows (updated).
 * @param offset Offset of the state in `state`.
 */
export function updateRef(
  u: ArrayLike<number>,
  v: ArrayLike<number>,
  b: number,
  dIn: number,
  dOut: number,
  count: number,
  state: Float64Array,
  offset = 0,
): void {
  const d = dIn + dOut;
  const z = (r: number, c: number): number => c < dIn ? u[r * dIn + c] : v[r * dOut + c - dIn];
  const n2 = count + b;
  for (let c = 0; c < d; c++) {
    let total = 0;
    for (let r = 0; r < b; r++) total += z(r, c);
    const xbar = total / b;
    let ss = 0;
    for (let r = 0; r < b; r++) ss += (z(r, c) - xbar) ** 2;
    const s2 = b > 1 ? ss / (b - 1) : 0;
    const mu = state[offset + c];
    const delta = xbar - mu;
    state[offset + c] = mu + (b * delta) / n2;
    const m = state[offset + d + c] + b * s2 + (count * b * delta * delta) / n2;
    state[offset + d + c] = m;
    state[offset + 2 * d + c] = Math.sqrt(m / (n2 - 1 + NORM_EPS));
  }
}
