import assert from "node:assert/strict";
import { BytePairEncoder, type MergeRule } from "../../../../engine/models/tokenizer/bpe.ts";
import { bytesToChars } from "../../../../engine/models/tokenizer/byte_unicode.ts";
import { loadGpt2Vocabulary } from "../../../../engine/models/tokenizer/vocabulary.ts";
import { randomInt, seededRandom } from "./prng.ts";

/**
 * GPT-2's reference algorithm, written plainly: find the best-ranked adjacent pair, merge every
 * occurrence left to right, repeat.
 */
function referenceSplit(word: string, bpe: BytePairEncoder): string[] {
  let symbols = word.split("");
  while (symbols.length > 1) {
    let best = Infinity;
    let left = "";
    let right = "";
    for (let i = 0; i + 1 < symbols.length; i++) {
      const rank = bpe.rank(symbols[i], symbols[i + 1]);
      if (rank !== undefined && rank < best) {
        [best, left, right] = [rank, symbols[i], symbols[i + 1]];
      }
    }
    if (best === Infinity) break;
    const merged: string[] = [];
    for (let i = 0; i < symbols.length;) {
      if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
        merged.push(left + right);
        i += 2;
      } else {
        merged.push(symbols[i++]);
      }
    }
    symbols = merged;
  }
  return symbols;
}

Deno.test("`split()` applies merges by rank, not by position", () => {
  const bpe = new BytePairEncoder([["e", "r"], ["l", "o"], ["lo", "w"], ["low", "er"]]);
  assert.deepEqual(bpe.split("lower"), ["lower"]);
  assert.deepEqual(bpe.split("slower"), ["s", "lower"]);
  assert.deepEqual(bpe.split("lowest"), ["low", "e", "s", "t"]);
});

Deno.test("`split()` merges overlapping occurrences left to right", () => {
  const bpe = new BytePairEncoder([["a", "a"]]);
  assert.deepEqual(bpe.split("aaa"), ["aa", "a"]);
  assert.deepEqual(bpe.split("aaaaa"), ["aa", "aa", "a"]);
});

Deno.test("`split()` merges every occurrence of a rank before pairs those merges create", () => {
  // Merging one "b c" creates "bc b", ranked better; the reference still merges the second
  // "b c" first, giving "bc bc" rather than "bcb c".
  const bpe = new BytePairEncoder([["bc", "b"], ["b", "c"]]);
  assert.deepEqual(bpe.split("bcbc"), ["bc", "bc"]);
  assert.deepEqual(referenceSplit("bcbc", bpe), ["bc", "bc"]);
});

Deno.test("`split()` returns short words unchanged", () => {
  const bpe = new BytePairEncoder([["a", "b"]]);
  assert.deepEqual(bpe.split(""), []);
  assert.deepEqual(bpe.split("a"), ["a"]);
  assert.deepEqual(bpe.split("ba"), ["b", "a"]);
});

Deno.test("`rank()` gives the last position of a repeated rule, like GPT-2's dict", () => {
  const bpe = new BytePairEncoder([["a", "b"], ["c", "d"], ["a", "b"]]);
  assert.equal(bpe.size, 3);
  assert.equal(bpe.rank("a", "b"), 2);
  assert.equal(bpe.rank("c", "d"), 1);
  assert.equal(bpe.rank("b", "a"), undefined);
});

Deno.test("`split()` matches the reference algorithm on random merge lists", () => {
  const random = seededRandom(11);
  for (let trial = 0; trial < 200; trial++) {
    // Random rules over a tiny alphabet, in random rank order, so merges often interact.
    const symbols = ["a", "b", "c"];
    const rules: MergeRule[] = [];
    for (let i = randomInt(random, 12) + 1; i > 0; i--) {
      const rule: MergeRule = [
        symbols[randomInt(random, symbols.length)],
        symbols[randomInt(random, symbols.length)],
      ];
      rules.push(rule);
      symbols.push(rule[0] + rule[1]);
    }
    rules.sort(() => random() - 0.5);
    const bpe = new BytePairEncoder(rules);
    for (let n = 0; n < 20; n++) {
      const word = Array.from({ length: randomInt(random, 16) }, () => "abc"[randomInt(random, 3)])
        .join("");
      assert.deepEqual(bpe.split(word), referenceSplit(word, bpe), `word "${word}"`);
    }
  }
});

Deno.test("`split()` matches the reference algorithm on GPT-2 merges", async () => {
  const bpe = new BytePairEncoder((await loadGpt2Vocabulary()).merges);
  const random = seededRandom(5);
  const words = ["Ġhello", "Ġantidisestablishmentarianism", "aaaaaaaaaaaaaaaaaaaa", "ĠParis"];
  for (let n = 0; n < 300; n++) {
    const bytes = Uint8Array.from(
      { length: randomInt(random, 24) + 1 },
      () => random() < 0.7 ? 0x61 + randomInt(random, 26) : randomInt(random, 256),
    );
    words.push(bytesToChars(bytes));
  }
  for (const word of words) {
    assert.deepEqual(bpe.split(word), referenceSplit(word, bpe), `word "${word}"`);
  }
});

Deno.test("`split()` handles a 20000-character word in well under a second", () => {
  const bpe = new BytePairEncoder([["a", "a"], ["aa", "aa"], ["b", "a"]]);
  const word = "ab".repeat(10000);
  const start = performance.now();
  const symbols = bpe.split(word);
  const elapsed = performance.now() - start;
  assert.equal(symbols.join(""), word);
  assert.deepEqual(symbols.slice(0, 3), ["a", "ba", "ba"]);
  assert.ok(elapsed < 1000, `took ${elapsed} ms`);
});
