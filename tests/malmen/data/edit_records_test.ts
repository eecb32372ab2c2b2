import assert from "node:assert/strict";
import {
  detectFormat,
  loadEditRecords,
  parseEditRecords,
} from "../../../malmen/data/edit_records.ts";
import { parseCounterFact } from "../../../malmen/data/counterfact.ts";
import { parseZsre } from "../../../malmen/data/zsre.ts";
import { COUNTERFACT_RAW, toJsonl, ZSRE_RAW } from "./_fixtures.ts";

Deno.test("`detectFormat()` tells CounterFact from zsRE by their fields", () => {
  assert.equal(detectFormat(COUNTERFACT_RAW[0]), "counterfact");
  assert.equal(detectFormat(ZSRE_RAW[0]), "zsre");
  assert.equal(detectFormat({ input: "x" }), undefined);
  assert.equal(detectFormat([1]), undefined);
});

Deno.test("`parseEditRecords()` gives the format-specific result when the format is detected", () => {
  for (const text of [JSON.stringify(COUNTERFACT_RAW), toJsonl(COUNTERFACT_RAW)]) {
    assert.deepEqual(parseEditRecords(text, "a"), parseCounterFact(text, "a"));
  }
  for (const text of [JSON.stringify(ZSRE_RAW), toJsonl(ZSRE_RAW)]) {
    assert.deepEqual(parseEditRecords(text, "b"), parseZsre(text, "b"));
  }
  assert.equal(parseEditRecords(JSON.stringify(ZSRE_RAW), "b", { emptyAlt: "skip" }).length, 1);
});

Deno.test("`parseEditRecords()` accepts a BOM, CRLF line ends and blank lines in JSON Lines", () => {
  const text = "\uFEFF" + COUNTERFACT_RAW.map((r) => JSON.stringify(r)).join("\r\n\r\n") + "\r\n";
  assert.equal(parseEditRecords(text, "a.jsonl").length, 2);
});

Deno.test("`parseEditRecords()` returns no records when the text is empty", () => {
  assert.deepEqual(parseEditRecords("", "e.json"), []);
  assert.deepEqual(parseEditRecords("  \n", "e.jsonl"), []);
  assert.deepEqual(parseEditRecords("[]", "e.json"), []);
});

Deno.test("`parseEditRecords()` names the index and field of a malformed record", () => {
  const records = Array.from({ length: 20 }, (_, i) => ({ ...COUNTERFACT_RAW[0], case_id: i }));
  (records[17] as Record<string, unknown>).target_new = "";
  assert.throws(
    () => parseEditRecords(JSON.stringify(records), "counterfact-train.json"),
    {
      name: "TypeError",
      message:
        'counterfact-train.json: record 17: field "target_new" must be a non-empty string, got ""',
    },
  );
});

Deno.test("`parseEditRecords()` reports a record of another layout instead of guessing per record", () => {
  const mixed = [COUNTERFACT_RAW[0], ZSRE_RAW[0]];
  assert.throws(
    () => parseEditRecords(toJsonl(mixed), "mixed.jsonl"),
    /^TypeError: mixed\.jsonl: record 1: field "case_id" must be a non-negative integer/,
  );
});

Deno.test("`parseEditRecords()` rejects unknown layouts and bad JSON with the place named", () => {
  assert.throws(
    () => parseEditRecords('[{"input": "x"}]', "u.json"),
    /^TypeError: u\.json: record 0: unknown record format; expected CounterFact fields "case_id"/,
  );
  assert.throws(
    () => parseEditRecords("[1]", "n.json"),
    /^TypeError: n\.json: record 0: must be a JSON object, got 1$/,
  );
  assert.throws(
    () => parseEditRecords(JSON.stringify(COUNTERFACT_RAW[0]) + "\n{oops\n", "l.jsonl"),
    /^TypeError: l\.jsonl: line 2: invalid JSON Lines record/,
  );
  assert.throws(() => parseEditRecords('[{"a": 1}', "t.json"), /^TypeError: t\.json: invalid JSON/);
});

Deno.test("`loadEditRecords()` reads a JSON Lines file from disk when given a path", async () => {
  const path = await Deno.makeTempFile({ suffix: ".jsonl" });
  try {
    await Deno.writeTextFile(path, toJsonl(ZSRE_RAW));
    const records = await loadEditRecords(path);
    assert.equal(records.length, 2);
    assert.equal(records[0].locality_prompt.endsWith("?"), true);
  } finally {
    await Deno.remove(path);
  }
});
