import assert from "node:assert/strict";
import { parseZsre, zsreRecord } from "../../../malmen/data/zsre.ts";
import { toJsonl, ZSRE_RAW } from "./_fixtures.ts";

Deno.test('`zsreRecord()` maps src, answers[0], alt and rephrase and appends "?" to loc when the record is valid', () => {
  assert.deepEqual(zsreRecord(ZSRE_RAW[0], "z.json", 4), {
    case_id: 4,
    prompt: "Which language does Ilsa Varn speak?",
    subject: "Ilsa Varn",
    ground_truth: "Tolvish",
    target_new: "Mereic",
    rephrase_prompt: "What language is spoken by Ilsa Varn?",
    locality_prompt: "nq question: who founded the town of dravo?",
    locality_ground_truth: "Odo Prell",
  });
});

Deno.test("`parseZsre()` keeps an empty-alt record by default so counts match the file", () => {
  const records = parseZsre(JSON.stringify(ZSRE_RAW), "z.json");
  assert.equal(records.length, 2);
  assert.equal(records[1].target_new, "");
  assert.equal(records[1].case_id, 1);
  assert.equal(records[1].ground_truth, "none");
});

Deno.test("`parseZsre()` drops or rejects an empty-alt record when asked to", () => {
  const skipped = parseZsre(toJsonl(ZSRE_RAW), "z.jsonl", { emptyAlt: "skip" });
  assert.deepEqual(skipped.map((r) => r.case_id), [0]);
  assert.throws(
    () => parseZsre(JSON.stringify(ZSRE_RAW), "z.json", { emptyAlt: "error" }),
    {
      name: "TypeError",
      message: 'z.json: record 1: field "alt" must be a non-empty string, got ""',
    },
  );
});

Deno.test("`zsreRecord()` names the field when answers is empty or alt is not a string", () => {
  assert.throws(
    () => zsreRecord({ ...ZSRE_RAW[0], answers: [] }, "z.json", 3),
    /^TypeError: z\.json: record 3: field "answers" must be a non-empty array of non-empty strings, got \[\]$/,
  );
  assert.throws(
    () => zsreRecord({ ...ZSRE_RAW[0], alt: null }, "z.json", 3),
    /z\.json: record 3: field "alt" must be a string, got null/,
  );
  assert.throws(
    () => zsreRecord({ ...ZSRE_RAW[0], loc: undefined }, "z.json", 3),
    /record 3: field "loc" must be a non-empty string, got nothing \(field missing\)/,
  );
});
