import assert from "node:assert/strict";
import { relationById, RELATIONS, renderTemplate } from "../../../malmen/data/relations.ts";

const SUBJECT = "Sub Ject";
const prompts = (templates: readonly string[]): string[] =>
  templates.map((t) => renderTemplate(t, SUBJECT));
/** True when `a` is `b` or a whole-word prefix of it. */
const wordPrefix = (a: string, b: string): boolean => a === b || b.startsWith(`${a} `);

Deno.test("`RELATIONS` has at least 4 templates per relation, some held out", () => {
  assert.ok(RELATIONS.length >= 8);
  assert.equal(new Set(RELATIONS.map((r) => r.id)).size, RELATIONS.length);
  for (const r of RELATIONS) {
    assert.ok(r.trainTemplates.length + r.heldOutTemplates.length >= 4, r.id);
    assert.ok(r.heldOutTemplates.length >= 1 && r.trainTemplates.length >= 2, r.id);
    for (const t of [...r.trainTemplates, ...r.heldOutTemplates]) {
      assert.equal(t.split("{}").length, 2, t);
      assert.doesNotMatch(t, /[^A-Za-z{} ]/, t);
    }
  }
});

Deno.test("`RELATIONS` held-out templates use only words from training templates", () => {
  const trained = new Set(RELATIONS.flatMap((r) => r.trainTemplates.flatMap((t) => t.split(" "))));
  for (const r of RELATIONS) {
    for (const t of r.heldOutTemplates) {
      for (const w of t.split(" ")) assert.ok(trained.has(w), `"${w}" of "${t}"`);
    }
  }
});

Deno.test("`RELATIONS` gives one answer per prompt when a subject has several relations", () => {
  const kinds = new Set(RELATIONS.map((r) => r.subjectKind));
  for (const kind of kinds) {
    const relations = RELATIONS.filter((r) => r.subjectKind === kind);
    const train = relations.flatMap((r) => prompts(r.trainTemplates).map((p) => ({ p, id: r.id })));
    for (const a of train) {
      for (const b of train) {
        if (a !== b) assert.equal(wordPrefix(a.p, b.p), false, `"${a.p}" vs "${b.p}"`);
      }
    }
    // A held-out prompt must not be a prefix of a trained one, or it would occur in training text.
    for (const r of relations) {
      for (const h of prompts(r.heldOutTemplates)) {
        for (const t of train) assert.equal(wordPrefix(h, t.p), false, `"${h}" vs "${t.p}"`);
      }
    }
  }
});

Deno.test("`relationById()` throws RangeError when the id is unknown", () => {
  assert.equal(relationById("capital").objectKind, "city");
  assert.throws(() => relationById("nope"), {
    name: "RangeError",
    message: 'Unknown relation "nope"',
  });
});
