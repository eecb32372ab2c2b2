/**
 * Byte-pair encoding: repeatedly merges the adjacent pair of symbols with the best (lowest)
 * merge rank, exactly as GPT-2's reference `bpe()` does.
 * @module
 */

/** One merge rule, `[left, right]`; its rank is its position in the merge list. */
export type MergeRule = readonly [left: string, right: string];

/** A candidate merge of the symbol at node `pos` with its right neighbour. */
interface Candidate {
  readonly rank: number;
  readonly pos: number;
  readonly left: string;
  readonly right: string;
}

function before(a: Candidate, b: Candidate): boolean {
  return a.rank < b.rank || (a.rank === b.rank && a.pos < b.pos);
}

/** Binary min-heap ordered by rank, then by position so equal ranks merge left to right. */
class CandidateHeap {
  #items: Candidate[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): Candidate {
    return this.#items[0];
  }

  push(item: Candidate): void {
    const items = this.#items;
    let i = items.length;
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, items[parent])) break;
      items[i] = items[parent];
      i = parent;
    }
    items[i] = item;
  }

  pop(): Candidate {
    const items = this.#items;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= items.length) break;
        const r = l + 1;
        const child = r < items.length && before(items[r], items[l]) ? r : l;
        if (!before(items[child], last)) break;
        items[i] = items[child];
        i = child;
      }
      items[i] = last;
    }
    return top;
  }
}

/**
 * Applies a ranked list of merge rules to words.
 *
 * The reference algorithm rescans the whole word after every merge, which is quadratic; this
 * keeps candidate pairs in a heap instead, so long unbroken words (URLs, base64) stay fast.
 * It processes all pairs of one rank as a batch, left to right, before looking at the pairs
 * those merges create, which is what makes it match the reference exactly.
 *
 * @example
 * ```ts
 * import { BytePairEncoder } from "./bpe.ts";
 * const bpe = new BytePairEncoder([["l", "o"], ["lo", "w"]]);
 * console.log(bpe.split("lower")); // ["low", "e", "r"]
 * ```
 */
export class BytePairEncoder {
  // Nested maps avoid building a joined key string for every pair lookup.
  #ranks = new Map<string, Map<string, number>>();
  #size = 0;

  /**
   * Creates an encoder from merge rules in priority order.
   * @param merges The rules; earlier rules win. A repeated rule takes its last rank, as in
   *   GPT-2's reference (a Python dict built from the list).
   */
  constructor(merges: Iterable<MergeRule>) {
    for (const [left, right] of merges) {
      let row = this.#ranks.get(left);
      if (row === undefined) this.#ranks.set(left, row = new Map());
      row.set(right, this.#size);
      this.#size++;
    }
  }

  /** Number of merge rules. */
  get size(): number {
    return this.#size;
  }

  /**
   * Rank of merging `left` with `right`.
   * @returns The rank (lower merges first), or `undefined` if the pair never merges.
   */
  rank(left: string, right: string): number | undefined {
    return this.#ranks.get(left)?.get(right);
  }

  /**
   * Splits a word into merged symbols.
   * @param word The word; each UTF-16 code unit starts out as one symbol.
   * @returns The symbols after all possible merges; they concatenate back to `word`.
   */
  split(word: string): string[] {
    const n = word.length;
    if (n < 2) return n === 0 ? [] : [word];
    const symbols = word.split("");
    // A doubly linked list over the original positions; merging keeps the left node.
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const dead = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap = new CandidateHeap();
    const offer = (pos: number): void => {
      const right = next[pos];
      if (pos < 0 || right < 0) return;
      const rank = this.rank(symbols[pos], symbols[right]);
      if (rank !== undefined) {
        heap.push({ rank, pos, left: symbols[pos], right: symbols[right] });
      }
    };
    for (let i = 0; i < n - 1; i++) offer(i);

    const merged: number[] = [];
    while (heap.size > 0) {
      const rank = heap.peek().rank;
      merged.length = 0;
      while (heap.size > 0 && heap.peek().rank === rank) {
        const { pos, left, right } = heap.pop();
        const j = next[pos];
        // Stale candidates (a side was merged since it was offered) no longer match.
        if (dead[pos] || j < 0 || symbols[pos] !== left || symbols[j] !== right) continue;
        symbols[pos] = left + right;
        dead[j] = 1;
        next[pos] = next[j];
        if (next[j] >= 0) prev[next[j]] = pos;
        merged.push(pos);
      }
      for (const pos of merged) {
        if (dead[pos]) continue;
        offer(prev[pos]);
        offer(pos);
      }
    }

    const out: string[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(symbols[i]);
    return out;
  }
}
