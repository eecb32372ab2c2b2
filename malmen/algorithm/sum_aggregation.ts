/**
 * MEND's sum aggregation, the baseline: ΔW = −η_k Σ_j ũ_j δ̃_jᵀ over all rows, with no solve.
 * Each chunk's term −η_k ŨᵀΔ̃ is added without a graph; the backward hands every chunk ⟨G, its
 * term⟩ directly, recomputed with a graph.
 * @module
 */
import { noGrad } from "../../engine/autograd.ts";
import { addInto } from "../../engine/ops/elementwise.ts";
import { keep, tidy } from "../../engine/scope.ts";
import { fmtShape } from "../../engine/shape.ts";
import type { Tensor } from "../../engine/tensor.ts";
import type { Aggregation, Aggregator, RowChunk } from "./aggregation.ts";
import type { HyperNetwork } from "./hypernet.ts";

class SumAggregator implements Aggregator {
  readonly #net: HyperNetwork;
  readonly #k: number;
  #deltaW: Tensor | null = null;

  constructor(net: HyperNetwork, k: number) {
    this.#net = net;
    this.#k = k;
  }

  add(keys: Tensor, valueGrads: Tensor): void {
    const term = tidy(() => noGrad(() => this.#net.mendShift(keys, valueGrads, this.#k)));
    if (this.#deltaW === null) this.#deltaW = keep(term);
    else {
      addInto(this.#deltaW, term);
      term.dispose();
    }
  }

  finish(): Promise<Tensor> {
    if (this.#deltaW === null) throw new RangeError("No rows were added to the sum aggregation");
    return Promise.resolve(this.#deltaW);
  }

  backward(grad: Tensor, chunks: Iterable<RowChunk>): Promise<void> {
    const { dIn, dOut } = this.#net;
    if (grad.rank !== 2 || grad.shape[0] !== dIn || grad.shape[1] !== dOut) {
      throw new RangeError(
        `Cannot back-propagate "${fmtShape(grad.shape)}" into a "[${dIn},${dOut}]" shift`,
      );
    }
    for (const c of chunks) {
      tidy(() => this.#net.mendShift(c.keys, c.valueGrads, this.#k).backward(grad));
    }
    return Promise.resolve();
  }

  fit(): Promise<number | null> {
    return Promise.resolve(null);
  }

  dispose(): void {
    this.#deltaW?.dispose();
    this.#deltaW = null;
  }
}

/** MEND's sum of per-token shifts. */
export const SUM: Aggregation = { create: (net, k) => new SumAggregator(net, k) };
