import assert from "node:assert/strict";
import { checkText, checkTokenId } from "../../../../engine/models/tokenizer/token_id.ts";

Deno.test("`checkTokenId()` accepts the first and last ids", () => {
  checkTokenId(0, 3);
  checkTokenId(2, 3);
});

Deno.test("`checkTokenId()` throws a RangeError naming the id when it is out of range", () => {
  for (const id of [3, -1, 1.5, NaN, Infinity]) {
    assert.throws(() => checkTokenId(id, 3), {
      name: "RangeError",
      message: `Unknown token id "${id}": vocabulary has 3 tokens`,
    });
  }
});

Deno.test("`checkText()` throws a TypeError when the text is not a string", () => {
  checkText("");
  assert.throws(() => checkText(undefined), {
    name: "TypeError",
    message: 'Invalid text "undefined": expected a string, got undefined',
  });
  assert.throws(() => checkText(42), TypeError);
});
