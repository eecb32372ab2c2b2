import assert from "node:assert/strict";
import {
  counterFactRecord,
  loadCounterFact,
  parseCounterFact,
} from "../../../malmen/data/counterfact.ts";
import { COUNTERFACT_RAW, toJsonl } from "./_fixtures.ts";

Deno.test("`parseCounterFact()` keeps every field and the optional relation when the JSON array is valid", () => {
  const records = parseCounterFact(JSON.stringify(COUNTERFACT_RAW), "cf.json");
  assert.equal(records.length, 2);
  assert.deepEqual(records[0], {
    case_id: 5,
    prompt: "The mother tongue of Ilsa Varn is",
    subject: "Ilsa Varn",
    ground_truth: "Mereic",
    target_new: "Tolvish",
    rephrase_prompt: "Ilsa Varn grew up speaking",
    locality_prompt: "Odo Prell is a native speaker of",
    locality_ground_truth: "Mereic",
  });
  assert.equal(records[1].relation, "headquartered_in");
  assert.equal("extra" in records[1], false);
});

Deno.test("`parseCounterFact()` reads JSON Lines the same as a JSON array", () => {
  assert.deepEqual(
    parseCounterFact(toJsonl(COUNTERFACT_RAW), "cf.jsonl"),
    parseCounterFact(JSON.stringify(COUNTERFACT_RAW), "cf.json"),
  );
});

Deno.test("`parseCounterFact()` names file, record index and field when a field is missing", () => {
  const bad = structuredClone(COUNTERFACT_RAW);
  delete bad[1].target_new;
  assert.throws(
    () => parseCounterFact(JSON.stringify(bad), "counterfact-train.json"),
    (e: unknown) =>
      e instanceof TypeError &&
      e.message.startsWith(
        'counterfact-train.json: record 1: field "target_new" must be a non-empty string',
      ),
  );
});

Deno.test("`counterFactRecord()` rejects blank strings, bad ids and non-objects with the field named", () => {
  const cases: [unknown, RegExp][] = [
    [
      { ...COUNTERFACT_RAW[0], prompt: "  " },
      /record 17: field "prompt" must be a non-empty string, got " {2}"/,
    ],
    [
      { ...COUNTERFACT_RAW[0], subject: 3 },
      /record 17: field "subject" must be a non-empty string, got 3/,
    ],
    [
      { ...COUNTERFACT_RAW[0], case_id: -1 },
      /record 17: field "case_id" must be a non-negative integer, got -1/,
    ],
    [
      { ...COUNTERFACT_RAW[0], case_id: "5" },
      /record 17: field "case_id" must be a non-negative integer/,
    ],
    [
      { ...COUNTERFACT_RAW[0], relation: "" },
      /record 17: field "relation" must be a non-empty string/,
    ],
    [[1, 2], /^x\.json: record 17: must be a JSON object, got \[1,2\]$/],
    [null, /record 17: must be a JSON object, got null/],
  ];
  for (const [raw, pattern] of cases) {
    assert.throws(() => counterFactRecord(raw, "x.json", 17), (e: unknown) => {
      assert.ok(e instanceof TypeError);
      assert.match(e.message, pattern);
      return true;
    });
  }
});

Deno.test("`loadCounterFact()` names the file path in errors when reading from disk", async () => {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  try {
    const bad = structuredClone(COUNTERFACT_RAW);
    bad[0].locality_ground_truth = "";
    await Deno.writeTextFile(path, JSON.stringify(bad));
    await assert.rejects(
      () => loadCounterFact(path),
      (e: unknown) =>
        e instanceof TypeError &&
        e.message.startsWith(`${path}: record 0: field "locality_ground_truth"`),
    );
    await Deno.writeTextFile(path, JSON.stringify(COUNTERFACT_RAW));
    assert.equal((await loadCounterFact(path)).length, 2);
  } finally {
    await Deno.remove(path);
  }
});
