import assert from "node:assert/strict";
import { parseJsonRecords } from "../../../malmen/data/json_records.ts";

Deno.test("`parseJsonRecords()` returns array items when the text is a JSON array", () => {
  assert.deepEqual(parseJsonRecords(' [{"a":1},{"a":2}] ', "x.json"), [{ a: 1 }, { a: 2 }]);
});

Deno.test("`parseJsonRecords()` returns one record per non-blank line when the text is JSON Lines", () => {
  assert.deepEqual(parseJsonRecords('{"a":1}\n\n{"a":2}', "x.jsonl"), [{ a: 1 }, { a: 2 }]);
  assert.deepEqual(parseJsonRecords('{"a":1}\n[1]', "m.jsonl"), [{ a: 1 }, [1]]);
});

Deno.test("`parseJsonRecords()` rejects a top-level non-array and names the bad line", () => {
  assert.throws(() => parseJsonRecords('"text"', "s.json"), {
    name: "TypeError",
    message: "s.json: expected a JSON array or JSON Lines of objects",
  });
  assert.throws(() => parseJsonRecords('{"a":1}\n[', "s.jsonl"), /^TypeError: s\.jsonl: line 2:/);
});
