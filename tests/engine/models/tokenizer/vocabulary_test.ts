import assert from "node:assert/strict";
import { loadGpt2Vocabulary, parseMerges } from "../../../../engine/models/tokenizer/vocabulary.ts";

Deno.test("`parseMerges()` skips the version header and the trailing empty line", () => {
  assert.deepEqual(parseMerges("#version: 0.2\nĠ t\nh e\n"), [["Ġ", "t"], ["h", "e"]]);
});

Deno.test("`parseMerges()` accepts CRLF line endings", () => {
  assert.deepEqual(parseMerges("#version: 0.2\r\nĠ t\r\nh e\r\n"), [["Ġ", "t"], ["h", "e"]]);
});

Deno.test("`parseMerges()` keeps a rule starting with # after the first line", () => {
  assert.deepEqual(parseMerges("#version: 0.2\n# #\n"), [["#", "#"]]);
});

Deno.test("`parseMerges()` throws a TypeError naming the line when a rule is malformed", () => {
  assert.throws(() => parseMerges("#version: 0.2\nĠ t\nabc\n"), {
    name: "TypeError",
    message: 'Invalid merge rule "abc" on line 3: expected "left right"',
  });
  assert.throws(() => parseMerges("a b c"), TypeError);
});

Deno.test("`loadGpt2Vocabulary()` reads the 50257 tokens and 50000 merges of GPT-2", async () => {
  const { encoder, merges } = await loadGpt2Vocabulary();
  assert.equal(Object.keys(encoder).length, 50257);
  assert.equal(encoder["<|endoftext|>"], 50256);
  assert.equal(encoder["hello"], 31373);
  assert.equal(encoder["!"], 0);
  assert.equal(merges.length, 50000);
  assert.deepEqual(merges[0], ["Ġ", "t"]);
  assert.deepEqual(merges.at(-1), ["Ġg", "azed"]);
});
