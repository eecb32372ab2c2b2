// `contextFor()`: the context a model needs for edit records, counted by hand with GPT-2 tokens.
import { equal } from "node:assert/strict";
import { loadGpt2Tokenizer } from "../../../engine/models/tokenizer/gpt2.ts";
import type { EditRecord } from "../../../malmen/data/edit_record.ts";
import { contextFor } from "../../../malmen/workflows/setup.ts";

const gpt2 = await loadGpt2Tokenizer();

// "a b c ..." is one GPT-2 token per letter; every answer " x" is one token, so a tuple needs
// prompt + 1 - 1 = prompt tokens (the model reads prompt ++ answer[:-1]).
function record(promptWords: number, target = "x"): EditRecord {
  const prompt = "abcdefghijklmnopqrstuvwxyz".slice(0, promptWords).split("").join(" ");
  return {
    case_id: 0,
    prompt,
    subject: "a",
    ground_truth: "y",
    target_new: target,
    rephrase_prompt: "a b",
    locality_prompt: "c d",
    locality_ground_truth: "z",
  };
}

Deno.test("`contextFor()` is the longest tuple rounded up to a multiple of 8", () => {
  equal(gpt2.encode(record(9).prompt).length, 9);
  equal(contextFor(gpt2, [record(8)]), 8);
  equal(contextFor(gpt2, [record(8), record(9)]), 16);
  equal(contextFor(gpt2, [record(2)]), 8);
  // A long target counts too: " x y z" is 3 tokens, so 8 + 3 - 1 = 10 tokens.
  equal(contextFor(gpt2, [record(8, "x y z")]), 16);
});
