import assert from "node:assert/strict";
import { buildCompactTokenizer } from "../../../../engine/models/tokenizer/compact.ts";
import { loadGpt2Tokenizer } from "../../../../engine/models/tokenizer/gpt2.ts";
import { tokenizerFromJSON } from "../../../../engine/models/tokenizer/json.ts";
import type { Tokenizer } from "../../../../engine/models/tokenizer/tokenizer.ts";

const gpt2 = await loadGpt2Tokenizer();
const compact = buildCompactTokenizer(gpt2, ["Rome is in Italy.", "Paris is in France."]);
const SAMPLES = ["Rome is in Italy.", "Berlin is in Germany! 🇩🇪", "", "\n\n  x"];

/** Saves a tokenizer the way a checkpoint does, as JSON text, and parses it back. */
function roundTripJSON(tokenizer: Tokenizer): unknown {
  return JSON.parse(JSON.stringify(tokenizer));
}

function assertSameTokenizer(actual: Tokenizer, expected: Tokenizer): void {
  assert.equal(actual.kind, expected.kind);
  assert.equal(actual.vocabSize, expected.vocabSize);
  assert.equal(actual.endOfTextId, expected.endOfTextId);
  assert.deepEqual(actual.toJSON(), expected.toJSON());
  for (const text of SAMPLES) {
    assert.deepEqual(actual.encode(text), expected.encode(text), JSON.stringify(text));
  }
}

Deno.test("`tokenizerFromJSON()` restores a compact tokenizer saved as JSON text", async () => {
  const restored = await tokenizerFromJSON(roundTripJSON(compact), gpt2);
  assertSameTokenizer(restored, compact);
  const ids = [...Array(compact.vocabSize).keys()];
  assert.equal(restored.decode(ids), compact.decode(ids));
});

Deno.test("`tokenizerFromJSON()` loads GPT-2 itself when no base is given", async () => {
  assertSameTokenizer(await tokenizerFromJSON(roundTripJSON(compact)), compact);
  assert.equal(await tokenizerFromJSON(roundTripJSON(gpt2)), gpt2);
});

Deno.test("`tokenizerFromJSON()` restores the GPT-2 tokenizer it is given", async () => {
  assert.deepEqual(roundTripJSON(gpt2), { kind: "gpt2", version: 1, vocabSize: 50257 });
  assert.equal(await tokenizerFromJSON(roundTripJSON(gpt2), gpt2), gpt2);
});

Deno.test("`toJSON()` stores the kept GPT-2 ids of a compact tokenizer", () => {
  assert.deepEqual(roundTripJSON(compact), {
    kind: "compact",
    version: 1,
    base: "gpt2",
    gpt2Ids: compact.gpt2Ids,
  });
});

Deno.test("`tokenizerFromJSON()` throws a TypeError when the JSON is not a saved tokenizer", async () => {
  await assert.rejects(tokenizerFromJSON(null, gpt2), {
    name: "TypeError",
    message: 'Invalid tokenizer JSON "null": expected an object',
  });
  await assert.rejects(tokenizerFromJSON([1], gpt2), TypeError);
  await assert.rejects(tokenizerFromJSON({ kind: "bert", version: 1 }, gpt2), {
    name: "TypeError",
    message: 'Unknown tokenizer kind "bert": expected "gpt2" or "compact"',
  });
  await assert.rejects(tokenizerFromJSON({ ...compact.toJSON(), version: 2 }, gpt2), {
    name: "TypeError",
    message: 'Unsupported compact tokenizer version "2": expected 1',
  });
  await assert.rejects(tokenizerFromJSON({ ...compact.toJSON(), base: "llama" }, gpt2), {
    name: "TypeError",
    message: 'Unknown base tokenizer "llama": expected "gpt2"',
  });
  await assert.rejects(tokenizerFromJSON({ ...compact.toJSON(), gpt2Ids: "1,2" }, gpt2), {
    name: "TypeError",
    message: 'Invalid gpt2Ids ""1,2"": expected an array of GPT-2 token ids',
  });
});

Deno.test("`tokenizerFromJSON()` throws a RangeError when the ids do not fit GPT-2", async () => {
  await assert.rejects(tokenizerFromJSON({ kind: "gpt2", version: 1, vocabSize: 50000 }, gpt2), {
    name: "RangeError",
    message:
      'Saved GPT-2 vocabulary size "50000" does not match the loaded vocabulary\'s 50257 tokens',
  });
  const json = compact.toJSON();
  await assert.rejects(tokenizerFromJSON({ ...json, gpt2Ids: [...json.gpt2Ids, 70000] }, gpt2), {
    name: "RangeError",
    message: 'Unknown token id "70000": vocabulary has 50257 tokens',
  });
});
