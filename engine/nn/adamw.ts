/**
 * AdamW (decoupled weight decay, bias-corrected moments) over a {@linkcode ParamArena}: one
 * fused dispatch per segment, with optional global-norm clipping whose factor is computed and
 * read on the device (two more dispatches), so a training step never reads back.
 * @module
 */
import { empty } from "../alloc.ts";
import { keep } from "../scope.ts";
import { contiguousStrides, fmtShape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { fill, view } from "../ops/copy.ts";
import { grid1d, Uniforms } from "../../kernels/common.ts";
import { ADAMW_UNIFORMS, adamwWgsl } from "../../kernels/adamw.ts";
import type { ParamArena } from "./arena.ts";
import { type HostTensor, writeHost } from "./host_io.ts";
import { Module } from "./module.ts";

/** Hyper-parameters of {@linkcode AdamW}. */
export interface AdamWOptions {
  /** Learning rate (default 1e-3); may be changed between steps through `optimizer.lr`. */
  lr?: number;
  /** Moment decay rates (default `[0.9, 0.999]`). */
  betas?: readonly [number, number];
  /** Denominator epsilon (default 1e-8). */
  eps?: number;
  /** Decoupled weight decay λ for parameters of rank ≥ 2 (default 0.01). */
  weightDecay?: number;
  /** Clip the global gradient norm to this value before each step (default: no clipping). */
  maxGradNorm?: number;
}

/** The optimizer state as host values, for checkpoints. */
export interface AdamWState {
  /** Steps taken. */
  step: number;
  /** `exp_avg.<name>` and `exp_avg_sq.<name>` per parameter. */
  tensors: Map<string, HostTensor>;
}

interface Moments {
  m: Tensor;
  v: Tensor;
}

/**
 * AdamW as in PyTorch (`torch.optim.AdamW`), with the bias corrections and decay factor
 * computed on the host in float64 each step.
 * @example A training step
 * ```ts ignore
 * const opt = new AdamW(model, { lr: 3e-4, weightDecay: 0.1, maxGradNorm: 1 });
 * tidy(() => {
 *   opt.zeroGrad();
 *   loss(model).backward();
 *   opt.step();
 * });
 * ```
 */
export class AdamW {
  /** The parameters being optimised. */
  readonly arena: ParamArena;
  /** Learning rate of the next step. */
  lr: number;
  /** First-moment decay. */
  beta1: number;
  /** Second-moment decay. */
  beta2: number;
  /** Denominator epsilon. */
  eps: number;
  /** Weight decay of rank ≥ 2 parameters. */
  weightDecay: number;
  /** Global gradient-norm threshold, or null for no clipping. */
  maxGradNorm: number | null;
  readonly #moments: Moments[];
  #step = 0;

  /**
   * Creates the optimizer with zeroed moments.
   * @param source A module (its arena is created on first use) or an arena.
   */
  constructor(source: Module | ParamArena, options: AdamWOptions = {}) {
    this.arena = source instanceof Module ? source.arena() : source;
    this.lr = options.lr ?? 1e-3;
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.maxGradNorm = options.maxGradNorm ?? null;
    const backend = this.arena.backend;
    this.#moments = this.arena.segments.map((s) => {
      const m = keep(empty([s.length], "float32", backend));
      const v = keep(empty([s.length], "float32", backend));
      fill(m, 0);
      fill(v, 0);
      return { m, v };
    });
  }

  /** Steps taken so far. */
  get stepCount(): number {
    return this.#step;
  }

  /** Zeroes all gradients (one dispatch per segment). */
  zeroGrad(): void {
    this.arena.zeroGrad();
  }

  /**
   * The global gradient norm as a new device scalar (two dispatches, no readback).
   * @returns The norm, owned by the caller.
   */
  gradNorm(): Tensor {
    return this.arena.gradNorm();
  }

  /**
   * The pre-clipping norm of the latest clipped step (a view overwritten by the next step).
   * @returns The arena's scalar view (do not dispose).
   */
  get lastGradNorm(): Tensor {
    return this.arena.lastGradNorm;
  }

  /**
   * One AdamW step on every parameter: `p ← p·(1 − lr·λ) − lr·m̂ / (√v̂ + ε)` with
   * `m̂ = m / (1 − β1ᵗ)`, `v̂ = v / (1 − β2ᵗ)`, gradients first scaled by the clip factor.
   */
  step(): void {
    const t = ++this.#step;
    const clip = this.maxGradNorm !== null;
    if (clip) this.arena.computeNorm(this.maxGradNorm!);
    const bc1 = 1 - this.beta1 ** t;
    const bc2 = 1 - this.beta2 ** t;
    const stepSize = this.lr / bc1;
    const invSqrtBc2 = 1 / Math.sqrt(bc2);
    const decayFactor = 1 - this.lr * this.weightDecay;
    const backend = this.arena.backend;
    this.arena.segments.forEach((seg, k) => {
      const { m, v } = this.#moments[k];
      if (backend.kind === "cpu") {
        const c = clip ? this.arena.state.storage.array![0] : 1;
        const p = seg.param.storage.array!;
        const g = seg.grad.storage.array!;
        const ma = m.storage.array!;
        const va = v.storage.array!;
        for (let i = 0; i < seg.length; i++) {
          const gi = g[i] * c;
          ma[i] = this.beta1 * ma[i] + (1 - this.beta1) * gi;
          va[i] = this.beta2 * va[i] + (1 - this.beta2) * gi * gi;
          const w = i < seg.decayEnd ? p[i] * decayFactor : p[i];
          p[i] = w - (stepSize * ma[i]) / (Math.sqrt(va[i]) * invSqrtBc2 + this.eps);
        }
        return;
      }
      const u = new Uniforms();
      const f = new Float32Array(u.words.buffer);
      const U = ADAMW_UNIFORMS;
      u.words[U.n4] = seg.length / 4;
      u.words[U.decayEnd4] = seg.decayEnd / 4;
      u.words[U.clip] = clip ? 1 : 0;
      f[U.beta1] = this.beta1;
      f[U.oneMinusBeta1] = 1 - this.beta1;
      f[U.beta2] = this.beta2;
      f[U.oneMinusBeta2] = 1 - this.beta2;
      f[U.stepSize] = stepSize;
      f[U.invSqrtBc2] = invSqrtBc2;
      f[U.eps] = this.eps;
      f[U.decayFactor] = decayFactor;
      backend.dispatcher.run({
        key: "adamw",
        wgsl: adamwWgsl,
        uniforms: u.words,
        inputs: [seg.grad.binding(), this.arena.state.binding()],
        outputs: [seg.param.binding(), m.binding(), v.binding()],
        workgroups: grid1d(seg.length / 4),
      });
    });
  }

  /**
   * The moments of one parameter as new views (for inspection; dispose them).
   * @returns `m` and `v` views.
   */
  moments(name: string): { m: Tensor; v: Tensor } {
    const slot = this.arena.slot(name);
    const { m, v } = this.#moments[slot.segment];
    const strides = contiguousStrides(slot.shape);
    return {
      m: view(m, slot.shape, strides, slot.offset),
      v: view(v, slot.shape, strides, slot.offset),
    };
  }

  /**
   * Reads the state to the host (one batched readback) for a checkpoint.
   * @returns Step count and per-parameter moments.
   */
  async exportState(): Promise<AdamWState> {
    const arrays = await Promise.all(
      this.#moments.flatMap(({ m, v }) => [m.toArray(), v.toArray()]),
    );
    const tensors = new Map<string, HostTensor>();
    for (const slot of this.arena.plan.slots) {
      const m = arrays[2 * slot.segment];
      const v = arrays[2 * slot.segment + 1];
      const range = (a: ArrayLike<number>): Float32Array =>
        Float32Array.from((a as Float32Array).subarray(slot.offset, slot.offset + slot.size));
      tensors.set(`exp_avg.${slot.name}`, { shape: slot.shape, data: range(m) });
      tensors.set(`exp_avg_sq.${slot.name}`, { shape: slot.shape, data: range(v) });
    }
    return { step: this.#step, tensors };
  }

  /**
   * Restores state saved by {@linkcode AdamW.exportState} (names and shapes must match the
   * arena exactly; checked before anything is written).
   * @param state Step count and moments.
   */
  importState(state: AdamWState): void {
    if (!Number.isInteger(state.step) || state.step < 0) {
      throw new RangeError(`Invalid optimizer step ${state.step}`);
    }
    const hosts = this.#moments.map(({ m }) => ({
      m: new Float32Array(m.size),
      v: new Float32Array(m.size),
    }));
    const expected = new Set<string>();
    for (const slot of this.arena.plan.slots) {
      for (const [prefix, key] of [["exp_avg", "m"], ["exp_avg_sq", "v"]] as const) {
        const name = `${prefix}.${slot.name}`;
        expected.add(name);
        const src = state.tensors.get(name);
        if (src === undefined) throw new RangeError(`Optimizer state lacks "${name}"`);
        if (fmtShape(src.shape) !== fmtShape(slot.shape) || src.data.length !== slot.size) {
          throw new RangeError(
            `Cannot load "${name}": the parameter has shape "${fmtShape(slot.shape)}", the state "${
              fmtShape(src.shape)
            }"`,
          );
        }
        hosts[slot.segment][key].set(src.data, slot.offset);
      }
    }
    const extra = [...state.tensors.keys()].filter((k) => !expected.has(k));
    if (extra.length > 0) {
      throw new RangeError(
        `Optimizer state has unexpected ${extra.map((k) => `"${k}"`).join(", ")}`,
      );
    }
    this.#moments.forEach(({ m, v }, k) => {
      writeHost(m, hosts[k].m);
      writeHost(v, hosts[k].v);
    });
    this.#step = state.step;
  }

  /** Releases the moments (the arena stays with its owner). */
  dispose(): void {
    for (const { m, v } of this.#moments) {
      m.dispose();
      v.dispose();
    }
  }
}
