/**
 * How one edited layer's per-token rows become a single weight shift: an {@linkcode Aggregator}
 * receives the rows chunk by chunk (the hyper-network runs on each chunk without a graph), then
 * returns ΔW and, in meta-training, back-propagates G = ∂L/∂ΔW into the hyper-network, re-fed
 * the same chunks in the same order. MALMEN solves a ridge regression ({@linkcode RIDGE}); the
 * MEND baseline sums per-token shifts ({@linkcode SUM}).
 * @module
 */
import type { Tensor } from "../../engine/tensor.ts";
import type { HyperNetwork } from "./hypernet.ts";

/** A chunk of one layer's rows, with its offset in the layer's row order. */
export interface RowChunk {
  /** First row's index among the layer's rows. */
  start: number;
  /** Keys u `[c, d_in]`. */
  keys: Tensor;
  /** Value-gradients δ `[c, d_out]`. */
  valueGrads: Tensor;
}

/** Turns one layer's rows into ΔW, and G = ∂L/∂ΔW back into hyper-network gradients. */
export interface Aggregator {
  /**
   * Adds a chunk of rows (no graph). The chunk stays the caller's: it may be disposed afterwards.
   * @param keys Keys u `[c, d_in]`.
   * @param valueGrads Value-gradients δ `[c, d_out]`.
   */
  add(keys: Tensor, valueGrads: Tensor): void;
  /**
   * ΔW of the rows added so far.
   * @returns `[d_in, d_out]`, owned by the aggregator (alive until `dispose`).
   */
  finish(): Promise<Tensor>;
  /**
   * Back-propagates G into the hyper-network's parameter gradients (after `finish`).
   * @param grad G = ∂L/∂ΔW `[d_in, d_out]`.
   * @param chunks The same rows again, in the order they were added.
   */
  backward(grad: Tensor, chunks: Iterable<RowChunk>): Promise<void>;
  /**
   * How well ΔW serves every row, ‖KΔW − D‖ / ‖D‖, when the aggregator can tell (ridge created
   * with `trackFit`), else null.
   * @returns The relative residual, or null.
   */
  fit(): Promise<number | null>;
  /** Releases ΔW and whatever the backward needed. */
  dispose(): void;
}

/** Options of {@linkcode Aggregation.create}. */
export interface AggregatorOptions {
  /** A fixed `[d_in, d_in]` preservation prior inside the ridge solve (ridge only; borrowed). */
  prior?: Tensor;
  /** Keep what {@linkcode Aggregator.fit} needs. */
  trackFit?: boolean;
}

/** A kind of aggregation: makes one aggregator per edited layer. */
export interface Aggregation {
  /**
   * A fresh aggregator for module `k` of a hyper-network.
   * @param net The hyper-network.
   * @param k Module index (the layer's position among the edited layers).
   * @param options Prior and fit tracking.
   */
  create(net: HyperNetwork, k: number, options?: AggregatorOptions): Aggregator;
}
