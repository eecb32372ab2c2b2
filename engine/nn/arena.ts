/**
 * The parameter arena: every parameter of a set lives as an aligned view of one flat buffer per
 * segment, and its gradient as a view of a parallel buffer, so that zeroing, the global
 * gradient norm and clipping each run as one dispatch per segment (the norm adds one final
 * dispatch) with no readback. Autograd accumulates into the pre-set `.grad` views in place.
 * @module
 */
import { type Backend, getBackend } from "../backend.ts";
import { empty, upload } from "../alloc.ts";
import { contiguousStrides } from "../shape.ts";
import { keep } from "../scope.ts";
import type { Tensor } from "../tensor.ts";
import { copyInto, fill, view } from "../ops/copy.ts";
import { grid1d, Uniforms } from "../../kernels/common.ts";
import {
  NORM_MAX_PARTIALS,
  normPartialGroups,
  scaleByFactorWgsl,
  sumSquaresFinalWgsl,
  sumSquaresPartialWgsl,
  zeroVec4Wgsl,
} from "../../kernels/grad_norm.ts";
import { type ArenaPlan, type ArenaSlot, type ArenaSpec, planArena } from "./arena_layout.ts";

/** Options of a {@linkcode ParamArena}. */
export interface ArenaOptions {
  /** Where the buffers live (default: the current backend). */
  backend?: Backend;
  /**
   * Largest segment in bytes (default on WebGPU: the device's largest storage binding, capped at
   * 1 GiB; unbounded on the CPU backend). Smaller segments mean one dispatch more per segment.
   */
  maxSegmentBytes?: number;
}

/** Options of {@linkcode ParamArena.fromTensors}. */
export interface AdoptOptions extends ArenaOptions {
  /** Whether a parameter gets weight decay (default: rank ≥ 2 and `requiresGrad`). */
  decay?: (name: string, t: Tensor) => boolean;
}

/** One flat buffer pair of the arena. */
export interface ArenaSegment {
  /** All parameter values of the segment, `[length]`. */
  readonly param: Tensor;
  /** All gradients of the segment, `[length]`. */
  readonly grad: Tensor;
  /** Elements (a multiple of 64, padding included). */
  readonly length: number;
  /** Elements `[0, decayEnd)` get weight decay. */
  readonly decayEnd: number;
}

const DEFAULT_GPU_SEGMENT_BYTES = 1 << 30;

/**
 * A set of parameters packed into a few flat buffers with their gradients alongside.
 * Each parameter is a leaf (`requiresGrad`) whose `.grad` is set once, to its zeroed arena view,
 * and must never be replaced or disposed by callers.
 * @example Train a bare parameter set
 * ```ts ignore
 * const arena = new ParamArena([{ name: "w", shape: [3, 4] }]);
 * const loss = sum(pow(arena.param("w"), 2));
 * loss.backward(); // accumulates into arena.grad("w")
 * const norm = arena.gradNorm(); // a device scalar; read it only when logging
 * ```
 */
export class ParamArena {
  /** Where the buffers live. */
  readonly backend: Backend;
  /**
   * Where each parameter sits in which segment (for AdamW's fused update and for tests).
   * @internal
   */
  readonly plan: ArenaPlan;
  /**
   * The flat buffers (for AdamW's fused update and for tests).
   * @internal
   */
  readonly segments: readonly ArenaSegment[];
  readonly #params = new Map<string, Tensor>();
  readonly #grads = new Map<string, Tensor>();
  // [clip factor, last norm, unused, unused]: written by the norm kernels, read by AdamW.
  readonly #state: Tensor;
  readonly #lastNorm: Tensor;
  readonly #partials: Tensor | null;
  // The norm of an optimizer step goes here: the final pass needs an output besides the state.
  readonly #scratch: Tensor;
  #disposed = false;

  /**
   * Allocates a zeroed arena.
   * @param specs Parameters to place (unique names).
   */
  constructor(specs: readonly ArenaSpec[], options: ArenaOptions = {}) {
    const backend = options.backend ?? getBackend();
    this.backend = backend;
    let maxBytes = options.maxSegmentBytes ?? Infinity;
    if (backend.kind === "webgpu") {
      const limit = backend.dispatcher.device.limits.maxStorageBufferBindingSize;
      maxBytes = Math.min(maxBytes, limit, DEFAULT_GPU_SEGMENT_BYTES);
    }
    this.plan = planArena(specs, maxBytes / 4);
    this.segments = this.plan.segments.map((s) => {
      const param = keep(empty([s.length], "float32", backend));
      const grad = keep(empty([s.length], "float32", backend));
      fill(param, 0);
      fill(grad, 0);
      return { param, grad, length: s.length, decayEnd: s.decayEnd };
    });
    for (const slot of this.plan.slots) {
      const seg = this.segments[slot.segment];
      const strides = contiguousStrides(slot.shape);
      const p = keep(view(seg.param, slot.shape, strides, slot.offset));
      const g = keep(view(seg.grad, slot.shape, strides, slot.offset));
      p.name = slot.name;
      g.name = `${slot.name}.grad`;
      p.requiresGrad = true;
      p.grad = g;
      this.#params.set(slot.name, p);
      this.#grads.set(slot.name, g);
    }
    this.#state = keep(upload([1, 0, 0, 0], [4], "float32", backend));
    this.#lastNorm = keep(view(this.#state, [], [], 1));
    this.#scratch = keep(empty([], "float32", backend));
    this.#partials = backend.kind === "webgpu"
      ? keep(empty([Math.max(1, this.segments.length) * NORM_MAX_PARTIALS], "float32", backend))
      : null;
  }

  /**
   * An arena holding copies of `tensors` (the originals stay with the caller). A tensor's
   * `requiresGrad` carries over, so frozen entries stay frozen.
   * @param tensors Name → tensor, all float32 on one backend.
   * @param options Backend (default: the tensors'), segment size, decay rule.
   */
  static fromTensors(tensors: ReadonlyMap<string, Tensor>, options: AdoptOptions = {}): ParamArena {
    const first = tensors.values().next().value as Tensor | undefined;
    const backend = options.backend ?? first?.backend ?? getBackend();
    const specs: ArenaSpec[] = [];
    for (const [name, t] of tensors) {
      t.assertLive("adopt");
      if (t.dtype !== "float32") {
        throw new TypeError(`Parameter "${name}" must be float, got ${t.dtype}`);
      }
      if (t.backend !== backend) {
        throw new TypeError(
          `Parameter "${name}" is on ${t.backend.kind}, the arena on ${backend.kind}`,
        );
      }
      // Frozen entries get no decay, so an optimizer step leaves them exactly unchanged.
      const decay = options.decay?.(name, t) ?? (t.rank >= 2 && t.requiresGrad);
      specs.push({ name, shape: t.shape, decay });
    }
    const arena = new ParamArena(specs, { ...options, backend });
    for (const [name, t] of tensors) {
      const p = arena.param(name);
      copyInto(p, t);
      p.requiresGrad = t.requiresGrad;
    }
    return arena;
  }

  /** Parameter names in placement order. */
  get names(): string[] {
    return [...this.#params.keys()];
  }

  /** Name → parameter view. */
  get params(): ReadonlyMap<string, Tensor> {
    return this.#params;
  }

  /**
   * Where a parameter was placed: segment, offset, size, and whether it decays.
   * @internal
   */
  slot(name: string): ArenaSlot {
    const s = this.plan.slots.find((x) => x.name === name);
    if (s === undefined) throw new RangeError(`No parameter "${name}" in the arena`);
    return s;
  }

  /**
   * A parameter view.
   * @returns The view (owned by the arena).
   */
  param(name: string): Tensor {
    const p = this.#params.get(name);
    if (p === undefined) throw new RangeError(`No parameter "${name}" in the arena`);
    return p;
  }

  /**
   * A gradient view.
   * @returns The view (owned by the arena).
   */
  grad(name: string): Tensor {
    const g = this.#grads.get(name);
    if (g === undefined) throw new RangeError(`No parameter "${name}" in the arena`);
    return g;
  }

  /** Total parameter elements (padding excluded). */
  get size(): number {
    return this.plan.slots.reduce((s, x) => s + x.size, 0);
  }

  /**
   * The device state `[clipFactor, lastNorm, unused, unused]` that optimizers read.
   * @returns The arena's tensor (do not dispose).
   */
  get state(): Tensor {
    this.#assertLive();
    return this.#state;
  }

  /** A scalar view of the norm computed by the latest norm pass (overwritten by the next one). */
  get lastGradNorm(): Tensor {
    this.#assertLive();
    return this.#lastNorm;
  }

  /** Zeroes every gradient: one fill per segment. Re-attaches any `.grad` a caller replaced. */
  zeroGrad(): void {
    this.#assertLive();
    for (const seg of this.segments) {
      if (this.backend.kind === "cpu") {
        seg.grad.storage.array!.fill(0);
        continue;
      }
      this.backend.dispatcher.run({
        key: "gradnorm:zero",
        wgsl: zeroVec4Wgsl,
        uniforms: new Uniforms().u32(seg.length / 4).words,
        inputs: [],
        outputs: [seg.grad.binding()],
        workgroups: grid1d(seg.length / 4),
      });
    }
    for (const [name, p] of this.#params) {
      const g = this.#grads.get(name)!;
      if (p.grad !== g) p.grad = g;
    }
  }

  /**
   * The global L2 norm of all gradients, computed on the device: one partial-sum dispatch per
   * segment and one final dispatch, no readback. Also stores the clip factor
   * `min(1, maxNorm / (norm + 1e-6))` (1 without `maxNorm`) for optimizers.
   * @param maxNorm Clipping threshold for the stored factor (omit for no clipping).
   * @returns A new scalar tensor owned by the caller.
   */
  gradNorm(maxNorm?: number): Tensor {
    this.#assertLive();
    const out = empty([], "float32", this.backend);
    this.computeNorm(maxNorm, out);
    return out;
  }

  /**
   * Clips gradients in place to a global norm of at most `maxNorm` (norm + one scaling dispatch
   * per segment).
   * @param maxNorm Threshold (> 0).
   * @returns The norm before clipping, a new scalar tensor owned by the caller.
   */
  clipGradNorm(maxNorm: number): Tensor {
    checkMaxNorm(maxNorm);
    const out = this.gradNorm(maxNorm);
    const backend = this.backend;
    for (const seg of this.segments) {
      if (backend.kind === "cpu") {
        const g = seg.grad.storage.array!;
        const factor = this.#state.storage.array![0];
        for (let i = 0; i < seg.length; i++) g[i] *= factor;
        continue;
      }
      backend.dispatcher.run({
        key: "gradnorm:scale",
        wgsl: scaleByFactorWgsl,
        uniforms: new Uniforms().u32(seg.length / 4).words,
        inputs: [this.#state.binding()],
        outputs: [seg.grad.binding()],
        workgroups: grid1d(seg.length / 4),
      });
    }
    return out;
  }

  /**
   * Runs the norm passes: writes the clip factor and the norm into {@linkcode ParamArena.state}
   * and the norm into `out` (default: a persistent scratch scalar). For optimizers.
   * @param maxNorm Clipping threshold, or undefined for factor 1.
   * @param out Optional scalar destination.
   */
  computeNorm(maxNorm: number | undefined, out?: Tensor): void {
    this.#assertLive();
    if (maxNorm !== undefined) checkMaxNorm(maxNorm);
    const dst = out ?? this.#scratch;
    const backend = this.backend;
    if (backend.kind === "cpu") {
      let total = 0;
      for (const seg of this.segments) {
        const g = seg.grad.storage.array!;
        for (let i = 0; i < seg.length; i++) total += g[i] * g[i];
      }
      const norm = Math.sqrt(total);
      const s = this.#state.storage.array!;
      s[0] = maxNorm === undefined ? 1 : Math.min(1, maxNorm / (norm + 1e-6));
      s[1] = norm;
      dst.storage.array![dst.offset] = norm;
      return;
    }
    let count = 0;
    for (const seg of this.segments) {
      const n4 = seg.length / 4;
      const groups = normPartialGroups(n4);
      backend.dispatcher.run({
        key: "gradnorm:partial",
        wgsl: sumSquaresPartialWgsl,
        uniforms: new Uniforms().u32(n4, count, 0).words,
        inputs: [seg.grad.binding()],
        outputs: [this.#partials!.binding()],
        workgroups: [groups, 1, 1],
      });
      count += groups;
    }
    if (count === 0) {
      // No segments: one zero partial keeps the final pass uniform.
      fill(this.#partials!, 0);
      count = 1;
    }
    const u = new Uniforms().u32(count, maxNorm === undefined ? 0 : 1).f32(maxNorm ?? 0)
      .u32(dst.offset);
    backend.dispatcher.run({
      key: "gradnorm:final",
      wgsl: sumSquaresFinalWgsl,
      uniforms: u.words,
      inputs: [this.#partials!.binding()],
      outputs: [this.#state.binding(), dst.binding()],
      workgroups: [1, 1, 1],
    });
  }

  /** Releases every buffer; the parameter views become unusable. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const p of this.#params.values()) {
      if (p.grad === this.#grads.get(p.name)) p.grad = null;
      p.dispose();
    }
    for (const g of this.#grads.values()) g.dispose();
    for (const seg of this.segments) {
      seg.param.dispose();
      seg.grad.dispose();
    }
    this.#lastNorm.dispose();
    this.#state.dispose();
    this.#partials?.dispose();
    this.#scratch.dispose();
  }

  /** True once {@linkcode ParamArena.dispose} ran. */
  get disposed(): boolean {
    return this.#disposed;
  }

  #assertLive(): void {
    if (this.#disposed) throw new Error("Cannot use a disposed parameter arena");
  }
}

function checkMaxNorm(maxNorm: number): void {
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm)) {
    throw new RangeError(`Gradient clipping needs a finite positive maxNorm, got ${maxNorm}`);
  }
}
