/**
 * MALMEN's aggregation: the hyper-network's value differences D are regressed on the keys K,
 * ΔW = (KᵀK [+ P] + λI)⁻¹KᵀD with λ = e^λ̂_k, streamed through a {@linkcode RidgeAccumulator}.
 * The backward is the solve's closed form: ∂L/∂λ̂ once, then ∂L/∂D per chunk, which the
 * hyper-network back-propagates through its recomputed forward.
 * @module
 */
import type { Tensor } from "../../engine/tensor.ts";
import type { Aggregation, Aggregator, AggregatorOptions, RowChunk } from "./aggregation.ts";
import type { HyperNetwork } from "./hypernet.ts";
import { RidgeAccumulator, type RidgeSolution } from "./ridge_accumulator.ts";

class RidgeAggregator implements Aggregator {
  readonly #net: HyperNetwork;
  readonly #k: number;
  readonly #acc: RidgeAccumulator;
  readonly #trackFit: boolean;
  #solution: RidgeSolution | null = null;

  constructor(net: HyperNetwork, k: number, options: AggregatorOptions) {
    this.#net = net;
    this.#k = k;
    this.#trackFit = options.trackFit ?? false;
    this.#acc = new RidgeAccumulator(net.dIn, net.dOut, {
      prior: options.prior,
      trackFit: options.trackFit,
    });
  }

  add(keys: Tensor, valueGrads: Tensor): void {
    const d = this.#net.predictValueDiffs(keys, valueGrads, this.#k);
    this.#acc.add(keys, d);
    d.dispose();
  }

  async finish(): Promise<Tensor> {
    this.#solution?.dispose();
    const lamHat = this.#net.lamHatAt(this.#k);
    this.#solution = await this.#acc.solve(lamHat);
    lamHat.dispose();
    // The solution holds what the backward needs; the Gram matrices only serve fit().
    if (!this.#trackFit) this.#acc.dispose();
    return this.#solution.deltaW;
  }

  async backward(grad: Tensor, chunks: Iterable<RowChunk>): Promise<void> {
    if (this.#solution === null) throw new Error("backward() needs finish() first");
    const back = await this.#solution.backward(grad);
    try {
      this.#net.addLamHatGrad(this.#k, back.gradLamHat);
      for (const c of chunks) {
        const gD = back.gradValues(c.start, c.keys);
        this.#net.backwardValueDiffs(c.keys, c.valueGrads, this.#k, gD);
        gD.dispose();
      }
    } finally {
      back.dispose();
    }
  }

  fit(): Promise<number | null> {
    if (this.#solution === null) throw new Error("fit() needs finish() first");
    return this.#trackFit ? this.#acc.fit(this.#solution) : Promise.resolve(null);
  }

  dispose(): void {
    this.#solution?.dispose();
    this.#solution = null;
    this.#acc.dispose();
  }
}

/** MALMEN's ridge least squares. */
export const RIDGE: Aggregation = {
  create: (net, k, options = {}) => new RidgeAggregator(net, k, options),
};
