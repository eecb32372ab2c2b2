import assert from "node:assert/strict";
import {
  GPT2_WORD_PATTERN,
  splitGpt2Words,
} from "../../../../engine/models/tokenizer/pretokenize.ts";
import { randomInt, seededRandom } from "./prng.ts";

Deno.test("`splitGpt2Words()` attaches one leading space to letters, digits and symbols", () => {
  assert.deepEqual(splitGpt2Words("Hello world 42 !!"), ["Hello", " world", " 42", " !!"]);
});

Deno.test("`splitGpt2Words()` leaves the last space of a run to the next word", () => {
  assert.deepEqual(splitGpt2Words("a   b"), ["a", "  ", " b"]);
  assert.deepEqual(splitGpt2Words("end   "), ["end", "   "]);
  assert.deepEqual(splitGpt2Words("x\n\n y"), ["x", "\n\n", " y"]);
});

Deno.test("`splitGpt2Words()` splits lower-case contractions only", () => {
  assert.deepEqual(splitGpt2Words("they're it's"), ["they", "'re", " it", "'s"]);
  assert.deepEqual(splitGpt2Words("IT'S"), ["IT", "'", "S"]);
});

Deno.test("`splitGpt2Words()` separates letters from digits and keeps marks with letters", () => {
  assert.deepEqual(splitGpt2Words("abc123def"), ["abc", "123", "def"]);
  assert.deepEqual(splitGpt2Words("日本語です"), ["日本語です"]);
  // U+0301 is a mark, not a letter: it starts a new symbol word.
  assert.deepEqual(splitGpt2Words("cafe\u0301"), ["cafe", "\u0301"]);
});

Deno.test("`splitGpt2Words()` returns no words when the text is empty", () => {
  assert.deepEqual(splitGpt2Words(""), []);
});

Deno.test("`splitGpt2Words()` words concatenate back to random text", () => {
  const random = seededRandom(7);
  const alphabet = [..."aZ9 \t\n\r'.,é日🙂\u0301\u00a0\u2028"];
  for (let n = 0; n < 500; n++) {
    let text = "";
    for (let i = randomInt(random, 30); i > 0; i--) {
      text += random() < 0.1
        ? String.fromCharCode(randomInt(random, 0x10000)) // includes lone surrogates
        : alphabet[randomInt(random, alphabet.length)];
    }
    const words = splitGpt2Words(text);
    assert.equal(words.join(""), text);
    assert.ok(words.every((word) => word.length > 0));
  }
});

Deno.test("`GPT2_WORD_PATTERN` is global and Unicode-aware", () => {
  assert.ok(GPT2_WORD_PATTERN.global);
  assert.ok(GPT2_WORD_PATTERN.unicode);
});
