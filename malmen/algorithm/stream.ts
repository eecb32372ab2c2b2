/**
 * The one streamed path from captured rows to weight shifts (phases A and B), and back (phases D
 * and E), shared by editing and meta-training. Rows arrive one LM mini-batch at a time, one part
 * per edited layer, and are re-cut into hyper-network chunks of a fixed size, so the LM
 * mini-batch and the chunk size are independent: editing feeds the lazy capture stream (memory
 * does not grow with the number of facts); meta-training feeds its cache, which it needs again
 * for the backward.
 * @module
 */
import { noGrad } from "../../engine/autograd.ts";
import { concat } from "../../engine/ops/concat.ts";
import { slice } from "../../engine/ops/view.ts";
import type { Tensor } from "../../engine/tensor.ts";
import type { Aggregator, RowChunk } from "./aggregation.ts";
import type { BatchRows, CapturedRows } from "./capture.ts";

/**
 * Re-cuts parts of one layer's rows into chunks of `size` rows (the last may be smaller), with
 * their offsets. Parts are borrowed (the chunker keeps views of them); chunks belong to the caller.
 */
export class RowChunker {
  readonly #size: number;
  #pending: CapturedRows[] = [];
  #count = 0;
  #start = 0;

  /**
   * An empty chunker.
   * @param size Rows per chunk.
   */
  constructor(size: number) {
    if (!(Number.isInteger(size) && size > 0)) {
      throw new RangeError(`Chunk size must be a positive integer, got "${size}"`);
    }
    this.#size = size;
  }

  /**
   * Adds a part.
   * @param part Keys and value-gradients of some rows (borrowed).
   * @returns The chunks that became complete (dispose them after use).
   */
  push(part: CapturedRows): RowChunk[] {
    const n = part.keys.shape[0];
    this.#pending.push(rowsView(part, 0, n));
    this.#count += n;
    const out: RowChunk[] = [];
    while (this.#count >= this.#size) out.push(this.#cut(this.#size));
    return out;
  }

  /**
   * The rows not yet handed out, as a last chunk.
   * @returns Zero or one chunk.
   */
  flush(): RowChunk[] {
    return this.#count > 0 ? [this.#cut(this.#count)] : [];
  }

  /** Releases rows not handed out. */
  dispose(): void {
    for (const p of this.#pending) disposeRowsOf(p);
    this.#pending = [];
    this.#count = 0;
  }

  // The first n pending rows as a chunk; the rest stays pending as views.
  #cut(n: number): RowChunk {
    const parts = this.#pending;
    const merged = parts.length === 1 ? parts[0] : noGrad(() => ({
      keys: concat(parts.map((p) => p.keys)),
      valueGrads: concat(parts.map((p) => p.valueGrads)),
    }));
    const chunk = { start: this.#start, ...rowsView(merged, 0, n) };
    this.#pending = this.#count > n ? [rowsView(merged, n, this.#count)] : [];
    for (const p of parts) disposeRowsOf(p);
    disposeRowsOf(merged);
    this.#count -= n;
    this.#start += n;
    return chunk;
  }
}

/**
 * One layer's parts as chunks of `size` rows; each chunk is disposed when the consumer asks for
 * the next.
 * @param parts The layer's rows, in order (borrowed).
 * @param size Rows per chunk.
 * @yields The chunks.
 */
export function* rowChunks(parts: Iterable<CapturedRows>, size: number): Generator<RowChunk> {
  const chunker = new RowChunker(size);
  try {
    for (const part of parts) yield* handOut(chunker.push(part));
    yield* handOut(chunker.flush());
  } finally {
    chunker.dispose();
  }
}

/**
 * Phase B (after A): every mini-batch's rows, re-cut into chunks, go through the hyper-network
 * into their layer's aggregator; then each aggregator gives its ΔW.
 * @param batches Captured rows per LM mini-batch (lazy capture or a cache).
 * @param aggregators One per edited layer, in the rows' layer order.
 * @param chunk Hyper-network rows per chunk.
 * @returns ΔW per layer (owned by the aggregators).
 */
export async function aggregateRows(
  batches: Iterable<BatchRows>,
  aggregators: readonly Aggregator[],
  chunk: number,
): Promise<Tensor[]> {
  const chunkers = aggregators.map(() => new RowChunker(chunk));
  const feed = (i: number, chunks: RowChunk[]): void => {
    for (const c of chunks) {
      aggregators[i].add(c.keys, c.valueGrads);
      disposeRowsOf(c);
    }
  };
  try {
    for (const rows of batches) {
      if (rows.length !== aggregators.length) {
        throw new RangeError(`Got rows of ${rows.length} layers for ${aggregators.length}`);
      }
      rows.forEach((part, i) => feed(i, chunkers[i].push(part)));
    }
    chunkers.forEach((c, i) => feed(i, c.flush()));
  } finally {
    for (const c of chunkers) c.dispose();
  }
  const shifts: Tensor[] = [];
  for (const a of aggregators) shifts.push(await a.finish());
  return shifts;
}

/**
 * Phases D and E: each layer's G = ∂L/∂ΔW goes back through its aggregator into the
 * hyper-network, re-fed the cached rows in the same chunks.
 * @param batches The cached rows that {@linkcode aggregateRows} consumed.
 * @param aggregators The same aggregators (finished).
 * @param grads G per layer.
 * @param chunk Hyper-network rows per chunk.
 */
export async function backpropagateRows(
  batches: readonly BatchRows[],
  aggregators: readonly Aggregator[],
  grads: readonly Tensor[],
  chunk: number,
): Promise<void> {
  for (let i = 0; i < aggregators.length; i++) {
    await aggregators[i].backward(grads[i], rowChunks(batches.map((b) => b[i]), chunk));
  }
}

// Yields chunks, each released when the consumer moves on (or stops).
function* handOut(chunks: RowChunk[]): Generator<RowChunk> {
  try {
    for (const c of chunks) {
      yield c;
      disposeRowsOf(c);
    }
  } finally {
    for (const c of chunks) disposeRowsOf(c);
  }
}

function rowsView(rows: CapturedRows, from: number, to: number): CapturedRows {
  const k = rows.keys;
  const g = rows.valueGrads;
  return {
    keys: slice(k, [from, 0], [to, k.shape[1]]),
    valueGrads: slice(g, [from, 0], [to, g.shape[1]]),
  };
}

function disposeRowsOf(rows: CapturedRows): void {
  rows.keys.dispose();
  rows.valueGrads.dispose();
}
