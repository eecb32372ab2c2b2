// `--data` as files: parsing the flag, splitting one file, reading a folder of splits, finding
// a named data set in the lookup order, and the errors that name what is wrong.
import assert from "node:assert/strict";
import {
  loadDataRecords,
  loadDataSplits,
  parseDataSpec,
  splitRecords,
} from "../../../malmen/data/data_source.ts";
import type { EditRecord } from "../../../malmen/data/edit_record.ts";
import { loadEditRecords } from "../../../malmen/data/edit_records.ts";
import { dataPlaces, locateDataset, MissingDataError } from "../../../malmen/data/places.ts";
import { DATASETS } from "../../../malmen/data/pins.ts";
import { generateWorld } from "../../../malmen/data/world.ts";
import { COUNTERFACT_RAW, toJsonl, ZSRE_RAW } from "./_fixtures.ts";
import { withTempDir } from "../../_files.ts";

const WORLD = generateWorld({
  seed: 2,
  people: 8,
  countries: 4,
  citiesPerCountry: 1,
  companies: 4,
});
const cf = (n: number, offset = 0): EditRecord[] =>
  Array.from(
    { length: n },
    (_, i) => ({ ...COUNTERFACT_RAW[0], case_id: offset + i }) as EditRecord,
  );

const ids = (records: readonly EditRecord[]) => records.map((r) => r.case_id);

Deno.test("`parseDataSpec()` reads world, the data set names and paths", () => {
  assert.deepEqual(parseDataSpec("world"), { kind: "world" });
  assert.deepEqual(parseDataSpec("counterfact"), { kind: "dataset", name: "counterfact" });
  assert.deepEqual(parseDataSpec("zsre"), { kind: "dataset", name: "zsre" });
  assert.deepEqual(parseDataSpec("./counterfact"), { kind: "path", path: "./counterfact" });
  assert.deepEqual(parseDataSpec("facts.jsonl"), { kind: "path", path: "facts.jsonl" });
  assert.throws(() => parseDataSpec(""), /--data needs a value/);
});

Deno.test("`splitRecords()` splits 45/10/45 by a fixed shuffle, disjoint and complete", () => {
  const records = WORLD.edit.concat(WORLD.train, WORLD.val);
  const n = records.length;
  const s = splitRecords(records, "w.json");
  assert.deepEqual(
    [s.train.length, s.val.length, s.edit.length],
    [Math.round(0.45 * n), Math.round(0.1 * n), n - Math.round(0.45 * n) - Math.round(0.1 * n)],
  );
  assert.deepEqual([...ids(s.train), ...ids(s.val), ...ids(s.edit)].sort(), ids(records).sort());
  // The same records always split the same way, and not in file order.
  assert.deepEqual(splitRecords(records, "again"), s);
  assert.notDeepEqual(ids(s.train), ids(records.slice(0, s.train.length)));
  const three = splitRecords(cf(3), "t.json");
  assert.deepEqual([three.train.length, three.val.length, three.edit.length], [1, 1, 1]);
  assert.throws(() => splitRecords(cf(2), "two.json"), {
    message: "two.json: 2 records; splitting into train, val and edit needs at least 3",
  });
});

Deno.test("`loadDataSplits()` reads one file of either format and layout, split", async () => {
  await withTempDir(async (dir) => {
    const world = WORLD.train;
    await Deno.writeTextFile(`${dir}/w.json`, JSON.stringify(world));
    await Deno.writeTextFile(`${dir}/w.jsonl`, toJsonl(world));
    const a = await loadDataSplits({ kind: "path", path: `${dir}/w.json` });
    const b = await loadDataSplits({ kind: "path", path: `${dir}/w.jsonl` });
    assert.deepEqual({ ...a, source: "" }, { ...b, source: "" });
    assert.deepEqual({ ...a, source: "" }, { ...splitRecords(world, ""), source: "" });
    assert.equal(a.source, `${dir}/w.json`);
    // A world dump keeps its relation field; zsRE is detected and mapped.
    assert.ok(a.train.every((r) => typeof r.relation === "string"));
    const zsre = [ZSRE_RAW[0], ZSRE_RAW[0], ZSRE_RAW[0]];
    await Deno.writeTextFile(`${dir}/z.json`, JSON.stringify(zsre));
    const all = await loadDataRecords({ kind: "path", path: `${dir}/z.json` });
    assert.deepEqual(all.map((r) => r.target_new), ["Mereic", "Mereic", "Mereic"]);
  });
});

Deno.test("`loadDataSplits()` names the file, record and field of a bad record, as edit does", async () => {
  await withTempDir(async (dir) => {
    const bad = [...cf(4), { ...COUNTERFACT_RAW[0], target_new: 7 }];
    await Deno.writeTextFile(`${dir}/bad.json`, JSON.stringify(bad));
    const expected = await loadEditRecords(`${dir}/bad.json`).catch((e) => e as Error);
    assert.ok(expected instanceof TypeError);
    await assert.rejects(() => loadDataSplits({ kind: "path", path: `${dir}/bad.json` }), {
      name: "TypeError",
      message: expected.message,
    });
    assert.match(expected.message, /bad\.json: record 4: field "target_new"/);
    await assert.rejects(
      () => loadDataSplits({ kind: "path", path: `${dir}/none.json` }),
      /--data ".*none.json": no such file or folder/,
    );
  });
});

Deno.test("`loadDataSplits()` reads a folder of split files, with or without a prefix", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/facts-train.json`, JSON.stringify(cf(3, 0)));
    await Deno.writeTextFile(`${dir}/facts_val.jsonl`, toJsonl(cf(2, 10)));
    await Deno.writeTextFile(`${dir}/edit.json`, JSON.stringify(cf(1, 20)));
    await Deno.writeTextFile(`${dir}/notes.json`, "not data");
    await Deno.writeTextFile(`${dir}/counterfact-edit-1k.json`, "not a split either");
    const s = await loadDataSplits({ kind: "path", path: dir });
    assert.deepEqual([ids(s.train), ids(s.val), ids(s.edit)], [[0, 1, 2], [10, 11], [20]]);
    assert.equal(s.source, dir);
    await Deno.writeTextFile(`${dir}/train.jsonl`, toJsonl(cf(1)));
    await assert.rejects(() => loadDataSplits({ kind: "path", path: dir }), {
      message: `--data "${dir}": two train files, "facts-train.json" and "train.jsonl"`,
    });
    await Deno.remove(`${dir}/train.jsonl`);
    await Deno.remove(`${dir}/edit.json`);
    await assert.rejects(
      () => loadDataSplits({ kind: "path", path: dir }),
      new RegExp(`--data "${dir}": no edit split \\(a folder needs files named train.json`),
    );
  });
});

// A data folder holding a data set's files (invented records under the pinned names).
async function fakeDataset(dir: string, name: "counterfact" | "zsre", offset: number) {
  for (const [i, file] of DATASETS[name].entries()) {
    await Deno.mkdir(`${dir}/${file.path.split("/")[0]}`, { recursive: true });
    const records = name === "zsre"
      ? [ZSRE_RAW[0], ZSRE_RAW[0], ZSRE_RAW[0]]
      : cf(2, offset + 10 * i);
    await Deno.writeTextFile(`${dir}/${file.path}`, JSON.stringify(records));
  }
}

Deno.test("a named data set is looked up in MALMEN_DATA, then data-raw, then the fetch cache", async () => {
  await withTempDir(async (root) => {
    const places = { env: `${root}/env`, dataRaw: `${root}/raw`, cache: `${root}/cache` };
    assert.deepEqual(dataPlaces(places).map((p) => [p.label, p.dir]), [
      ["MALMEN_DATA", `${root}/env`],
      ["../shared/data-raw", `${root}/raw`],
      ["fetch cache", `${root}/cache`],
    ]);
    await fakeDataset(`${root}/cache`, "counterfact", 300);
    assert.equal(await locateDataset("counterfact", places), `${root}/cache`);
    await fakeDataset(`${root}/raw`, "counterfact", 200);
    assert.equal(await locateDataset("counterfact", places), `${root}/raw`);
    await fakeDataset(`${root}/env`, "counterfact", 100);
    const s = await loadDataSplits({ kind: "dataset", name: "counterfact" }, places);
    assert.deepEqual([ids(s.train), ids(s.val), ids(s.edit)], [[100, 101], [110, 111], [120, 121]]);
    // A folder missing one file does not count; the next place is used.
    await Deno.remove(`${root}/env/counterfact/counterfact-val.json`);
    assert.equal(await locateDataset("counterfact", places), `${root}/raw`);
    // zsRE is one file, split like any single file.
    await fakeDataset(`${root}/cache`, "zsre", 0);
    const z = await loadDataSplits({ kind: "dataset", name: "zsre" }, places);
    assert.deepEqual([z.train.length, z.val.length, z.edit.length], [1, 1, 1]);
  });
});

Deno.test("the missing-data error lists every place looked in and how to get the data", async () => {
  await withTempDir(async (root) => {
    await fakeDataset(`${root}/raw`, "counterfact", 0);
    await Deno.remove(`${root}/raw/counterfact/counterfact-edit.json`);
    const places = { env: null, dataRaw: `${root}/raw`, cache: `${root}/cache` };
    await assert.rejects(
      () => loadDataSplits({ kind: "dataset", name: "counterfact" }, places),
      (e) => {
        assert.ok(e instanceof MissingDataError);
        assert.equal(
          e.message,
          [
            "counterfact data not found. Looked in:",
            "  MALMEN_DATA: not set",
            `  ../shared/data-raw (${root}/raw): counterfact/counterfact-edit.json missing`,
            `  fetch cache (${root}/cache): counterfact/counterfact-train.json, ` +
            "counterfact/counterfact-val.json, counterfact/counterfact-edit.json missing",
            "Fetch it with `deno task data fetch counterfact`, set MALMEN_DATA to a folder holding " +
            "counterfact/counterfact-train.json, counterfact/counterfact-val.json, " +
            "counterfact/counterfact-edit.json, or pass --data FILE|DIR.",
          ].join("\n"),
        );
        return true;
      },
    );
  });
});
