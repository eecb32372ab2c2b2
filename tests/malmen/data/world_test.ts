import assert from "node:assert/strict";
import { parseEditRecords } from "../../../malmen/data/edit_records.ts";
import { relationById, renderTemplate } from "../../../malmen/data/relations.ts";
import { generateWorld, resampleRecords, type World } from "../../../malmen/data/world.ts";

const WORLD: World = generateWorld();
const SMALL_OPTIONS = {
  seed: 11,
  people: 8,
  countries: 4,
  citiesPerCountry: 1,
  companies: 4,
  instruments: 2,
  sports: 2,
  colors: 2,
};
const SMALL: World = generateWorld(SMALL_OPTIONS);
const records = (w: World) => [...w.train, ...w.val, ...w.edit];
const words = (s: string): number => s.split(" ").length;

Deno.test("`generateWorld()` is byte-identical when the seed is the same", () => {
  assert.equal(JSON.stringify(generateWorld({ seed: 1 })), JSON.stringify(WORLD));
  assert.equal(JSON.stringify(generateWorld(SMALL_OPTIONS)), JSON.stringify(SMALL));
  assert.notEqual(JSON.stringify(generateWorld({ seed: 2 })), JSON.stringify(WORLD));
});

Deno.test("`generateWorld()` keeps the entities when only the split fractions change", () => {
  const other = generateWorld({ split: { train: 0.4, val: 0.2, edit: 0.3, locality: 0.1 } });
  assert.deepEqual(other.facts, WORLD.facts);
  assert.notDeepEqual(other.subjects, WORLD.subjects);
});

Deno.test("`generateWorld()` has 1,500-2,500 facts and >= 600 edit records by default", () => {
  assert.ok(WORLD.facts.length >= 1500 && WORLD.facts.length <= 2500, `${WORLD.facts.length}`);
  assert.ok(WORLD.edit.length >= 600, `${WORLD.edit.length}`);
  assert.ok(WORLD.train.length >= 512, `${WORLD.train.length}`);
  WORLD.facts.forEach((f, i) => assert.equal(f.id, i));
  for (const w of [WORLD, SMALL]) {
    assert.equal(records(w).length + w.locality.length, w.facts.length);
    assert.deepEqual(
      records(w).map((r) => r.case_id).sort((a, b) => a - b),
      w.facts.filter((f) => !w.locality.includes(f)).map((f) => f.id),
    );
  }
});

Deno.test("`generateWorld()` puts each subject in exactly one split", () => {
  for (const w of [WORLD, SMALL]) {
    const { train, val, edit, locality } = w.subjects;
    const all = [...train, ...val, ...edit, ...locality];
    assert.equal(new Set(all).size, all.length);
    assert.equal(all.length, new Set(w.facts.map((f) => f.subject)).size);
    for (const split of ["train", "val", "edit"] as const) {
      const allowed = new Set(w.subjects[split]);
      for (const r of w[split]) assert.ok(allowed.has(r.subject), `${r.subject} in ${split}`);
    }
    for (const f of w.locality) assert.ok(locality.includes(f.subject));
  }
});

Deno.test("`generateWorld()` covers every relation in every split", () => {
  for (const w of [WORLD, SMALL]) {
    for (const split of ["train", "val", "edit"] as const) {
      const seen = new Set(w[split].map((r) => r.relation));
      assert.equal(seen.size, w.relations.length, split);
    }
  }
});

Deno.test("`generateWorld()` never puts a held-out template in training texts", () => {
  for (const w of [WORLD, SMALL]) {
    const corpus = w.trainingTexts.join("\n");
    for (const fact of w.facts) {
      for (const t of relationById(fact.relation).heldOutTemplates) {
        const prompt = renderTemplate(t, fact.subject);
        assert.equal(corpus.includes(prompt), false, prompt);
      }
    }
    for (const r of records(w)) assert.equal(corpus.includes(r.rephrase_prompt), false);
  }
});

Deno.test("`generateWorld()` trains the LM on every fact in every training template", () => {
  for (const w of [WORLD, SMALL]) {
    const expected = w.facts.flatMap((f) =>
      relationById(f.relation).trainTemplates.map((t) =>
        `${renderTemplate(t, f.subject)} ${f.object}`
      )
    );
    assert.deepEqual(w.trainingTexts, expected);
    const texts = new Set(w.trainingTexts);
    for (const r of records(w)) {
      assert.ok(texts.has(`${r.prompt} ${r.ground_truth}`), r.prompt);
      assert.ok(r.prompt.includes(r.subject) && r.rephrase_prompt.includes(r.subject));
    }
  }
});

Deno.test("`generateWorld()` picks target_new from the relation's objects and never the truth", () => {
  for (const w of [WORLD, SMALL]) {
    for (const r of records(w)) {
      const relation = relationById(r.relation!);
      const fact = w.facts[r.case_id];
      assert.equal(fact.subject, r.subject);
      assert.equal(fact.object, r.ground_truth);
      assert.notEqual(r.target_new, r.ground_truth);
      assert.ok(w.entities[relation.objectKind].includes(r.target_new), r.target_new);
    }
  }
});

Deno.test("`generateWorld()` uses other subjects' trained true facts as locality probes", () => {
  for (const w of [WORLD, SMALL]) {
    const texts = new Set(w.trainingTexts);
    const localitySubjects = new Set(w.subjects.locality);
    for (const r of records(w)) {
      assert.ok(texts.has(`${r.locality_prompt} ${r.locality_ground_truth}`), r.locality_prompt);
      const probe = w.locality.find((f) =>
        f.object === r.locality_ground_truth && r.locality_prompt.includes(f.subject) &&
        f.relation === r.relation
      );
      assert.ok(probe !== undefined, r.locality_prompt);
      assert.notEqual(probe.subject, r.subject);
      assert.ok(localitySubjects.has(probe.subject));
    }
  }
});

Deno.test("`generateWorld()` includes multi-word answers and targets", () => {
  const multi = WORLD.facts.filter((f) => words(f.object) >= 2);
  assert.ok(multi.length / WORLD.facts.length > 0.2, `${multi.length}`);
  assert.ok(WORLD.edit.some((r) => words(r.target_new) >= 2));
  assert.ok(WORLD.edit.some((r) => words(r.ground_truth) >= 2));
  // Every object kind with affixes shows up multi-word somewhere (cities, companies, ...).
  for (const kind of ["city", "company"] as const) {
    assert.ok(WORLD.entities[kind].some((e) => words(e) >= 2), kind);
  }
});

Deno.test("`generateWorld()` only uses answer words the LM was trained on", () => {
  for (const w of [WORLD, SMALL]) {
    const vocab = new Set(w.trainingTexts.flatMap((t) => t.split(" ")));
    for (const r of records(w)) {
      for (const text of [r.target_new, r.rephrase_prompt, r.locality_prompt]) {
        for (const word of text.split(" ")) assert.ok(vocab.has(word), `${word} in ${text}`);
      }
    }
  }
});

Deno.test("`generateWorld()` keeps prompts short and names distinct", () => {
  for (const f of WORLD.facts) {
    const relation = relationById(f.relation);
    for (const t of [...relation.trainTemplates, ...relation.heldOutTemplates]) {
      assert.ok(words(renderTemplate(t, f.subject)) <= 12);
    }
  }
  const all = Object.values(WORLD.entities).flat();
  assert.equal(new Set(all).size, all.length);
});

Deno.test("`generateWorld()` records survive a JSON Lines round trip through the loader", () => {
  const text = WORLD.edit.map((r) => JSON.stringify(r)).join("\n");
  assert.deepEqual(parseEditRecords(text, "world-edit.jsonl"), WORLD.edit);
});

Deno.test("`generateWorld()` throws RangeError when options are invalid", () => {
  assert.throws(() => generateWorld({ people: -1 }), {
    name: "RangeError",
    message: 'World option "people" must be an integer >= "0", got "-1"',
  });
  assert.throws(() => generateWorld({ colors: 1 }), RangeError);
  assert.throws(() => generateWorld({ seed: -3 }), RangeError);
  assert.throws(
    () => generateWorld({ split: { train: 0.5, val: 0.5, edit: 0.5, locality: 0.1 } }),
    { name: "RangeError", message: 'Split fractions must sum to "1", got "1.6"' },
  );
  assert.throws(
    () => generateWorld({ split: { train: 0.5, val: 0.2, edit: 0.3, locality: 0 } }),
    /locality/,
  );
  assert.throws(() => generateWorld({ countries: 3 }), /Need at least "4" country subjects/);
});

Deno.test("`generateWorld()` works without people when only places and companies are wanted", () => {
  const w = generateWorld({ people: 0, split: { train: 0.5, val: 0.1, edit: 0.3, locality: 0.1 } });
  assert.equal(w.entities.person.length, 0);
  assert.equal(w.facts.length, 16 * 2 + 64 + 40);
});

Deno.test("`resampleRecords()` redraws targets, templates and probes for the same facts", () => {
  const world = generateWorld();
  const a = resampleRecords(world, "train", 1);
  assert.deepEqual(resampleRecords(world, "train", 1), a);
  const b = resampleRecords(world, "train", 2);
  const ids = (rs: typeof a) => rs.map((r) => r.case_id).sort((x, y) => x - y);
  assert.deepEqual(ids(a), ids(world.train));
  assert.deepEqual(ids(b), ids(world.train));
  const byId = new Map(b.map((r) => [r.case_id, r]));
  let changed = 0;
  for (const r of a) {
    const fact = world.facts[r.case_id];
    assert.equal(r.subject, fact.subject);
    assert.equal(r.ground_truth, fact.object);
    assert.notEqual(r.target_new, fact.object);
    const relation = relationById(fact.relation);
    assert.ok(relation.trainTemplates.some((t) => renderTemplate(t, fact.subject) === r.prompt));
    assert.ok(
      relation.heldOutTemplates.some((t) => renderTemplate(t, fact.subject) === r.rephrase_prompt),
    );
    const probe = world.locality.find((f) =>
      f.relation === fact.relation && f.object === r.locality_ground_truth &&
      r.locality_prompt.includes(f.subject)
    );
    assert.ok(probe !== undefined, r.locality_prompt);
    if (byId.get(r.case_id)!.target_new !== r.target_new) changed++;
  }
  // Different seeds draw mostly different targets.
  assert.ok(changed > a.length / 2, `${changed} of ${a.length} targets changed`);
});
