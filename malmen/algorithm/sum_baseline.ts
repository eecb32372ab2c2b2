/**
 * The MEND-style sum aggregation baseline (design §1.8): ΔW_MEND = −η_k Σ_j ũ_j δ̃_jᵀ over all
 * chunks, with no ridge solve. Phase B accumulates the chunk shifts without a graph; phase E
 * back-propagates ⟨G, −η_k ŨᵀΔ̃⟩ through the hyper-network chunk by chunk.
 * @module
 */
import { noGrad } from "../../engine/autograd.ts";
import { addInto } from "../../engine/ops/elementwise.ts";
import { keep, tidy } from "../../engine/scope.ts";
import { fmtShape } from "../../engine/shape.ts";
import type { Tensor } from "../../engine/tensor.ts";
import type { HyperNetwork } from "./hypernet.ts";

/** Accumulates ΔW_MEND of one module chunk by chunk. */
export class MendSumAccumulator {
  /** The hyper-network. */
  readonly net: HyperNetwork;
  /** Module index. */
  readonly module: number;
  #deltaW: Tensor | null = null;

  /**
   * Creates an empty accumulator.
   * @param net The hyper-network of the module's shape.
   * @param module Module index k.
   */
  constructor(net: HyperNetwork, module: number) {
    this.net = net;
    this.module = module;
  }

  /**
   * Adds −η_k ŨᵀΔ̃ of a chunk (no graph).
   * @param keys Keys u `[c, d_in]`.
   * @param grads Value-gradients δ `[c, d_out]`.
   */
  add(keys: Tensor, grads: Tensor): void {
    const shift = tidy(() => noGrad(() => this.net.mendShift(keys, grads, this.module)));
    if (this.#deltaW === null) {
      this.#deltaW = keep(shift);
      return;
    }
    addInto(this.#deltaW, shift);
    shift.dispose();
  }

  /** ΔW_MEND `[d_in, d_out]` so far (owned by the accumulator). */
  get deltaW(): Tensor {
    if (this.#deltaW === null) throw new RangeError("No chunk was added to the sum accumulator");
    return this.#deltaW;
  }

  /**
   * Phase E for one chunk: back-propagates ⟨G, −η_k ŨᵀΔ̃⟩ into the hyper-network's gradients.
   * @param keys The chunk's keys `[c, d_in]`.
   * @param grads The chunk's value-gradients `[c, d_out]`.
   * @param g G = ∂L/∂ΔW `[d_in, d_out]`.
   */
  backwardChunk(keys: Tensor, grads: Tensor, g: Tensor): void {
    const { dIn, dOut } = this.net;
    if (g.rank !== 2 || g.shape[0] !== dIn || g.shape[1] !== dOut) {
      throw new RangeError(
        `Cannot back-propagate "${fmtShape(g.shape)}" into a "[${dIn},${dOut}]" shift`,
      );
    }
    tidy(() => this.net.mendShift(keys, grads, this.module).backward(g));
  }

  /** Releases ΔW. */
  dispose(): void {
    this.#deltaW?.dispose();
    this.#deltaW = null;
  }
}
