import assert from "node:assert/strict";
import {
  DATA_RAW_FILES,
  defaultDataRawDir,
  loadCounterFactSplits,
} from "../../../malmen/data/data_raw.ts";
import { loadCounterFact } from "../../../malmen/data/counterfact.ts";
import { loadEditRecords } from "../../../malmen/data/edit_records.ts";
import { loadZsre } from "../../../malmen/data/zsre.ts";

const dir = defaultDataRawDir();
const url = (file: string): URL => new URL(file, dir);

function exists(file: string): boolean {
  try {
    return Deno.statSync(url(file)).isFile;
  } catch {
    return false;
  }
}

const haveCounterFact = [
  DATA_RAW_FILES.counterfactTrain,
  DATA_RAW_FILES.counterfactVal,
  DATA_RAW_FILES.counterfactEdit,
  DATA_RAW_FILES.counterfactEdit1k,
].every(exists);
const haveZsre = exists(DATA_RAW_FILES.zsreTrain1k);
if (!haveCounterFact) {
  console.log(`SKIP real CounterFact tests: files not found under ${dir.pathname}counterfact/`);
}
if (!haveZsre) {
  console.log(`SKIP real zsRE test: ${url(DATA_RAW_FILES.zsreTrain1k).pathname} not found`);
}

Deno.test({
  name:
    "`loadCounterFactSplits()` loads 10000/1919/10000 disjoint records when the real files exist",
  ignore: !haveCounterFact,
  fn: async () => {
    const { train, val, edit } = await loadCounterFactSplits();
    assert.equal(train.length, 10000);
    assert.equal(val.length, 1919);
    assert.equal(edit.length, 10000);
    const ids = [...train, ...val, ...edit].map((r) => r.case_id);
    assert.equal(new Set(ids).size, 21919);
    assert.equal(train.every((r) => r.relation === undefined), true);
    const small = await loadCounterFactSplits({ dir: dir.pathname, edit1k: true });
    assert.equal(small.edit.length, 1000);
    const editIds = new Set(edit.map((r) => r.case_id));
    assert.ok(small.edit.every((r) => editIds.has(r.case_id)));
  },
});

Deno.test({
  name: "`loadEditRecords()` detects the real CounterFact file as CounterFact",
  ignore: !haveCounterFact,
  fn: async () => {
    const path = url(DATA_RAW_FILES.counterfactVal);
    assert.deepEqual(await loadEditRecords(path), await loadCounterFact(path));
  },
});

Deno.test({
  name: "`loadZsre()` loads all 1000 real zsRE records, 2 with an empty alt",
  ignore: !haveZsre,
  fn: async () => {
    const path = url(DATA_RAW_FILES.zsreTrain1k);
    const records = await loadZsre(path);
    assert.equal(records.length, 1000);
    assert.deepEqual(await loadEditRecords(path), records);
    assert.equal(records.filter((r) => r.target_new === "").length, 2);
    for (const r of records) {
      assert.ok(r.locality_prompt.startsWith("nq question: ") && r.locality_prompt.endsWith("?"));
    }
    assert.equal((await loadZsre(path, { emptyAlt: "skip" })).length, 998);
  },
});
