// The web app's server side without a browser: a session over a tiny trained LM asks, edits with
// progress, keeps a journal whose revert and re-apply are exact, serves concurrent requests one
// at a time in arrival order, refuses bad input with the CLI's messages before any work, and
// takes edits made in a tab only when they fit the model.
import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import { CPU } from "../../../engine/backend.ts";
import { noGrad } from "../../../engine/autograd.ts";
import { tensor } from "../../../engine/ops/creation.ts";
import type { GPT } from "../../../engine/models/gpt/model.ts";
import type { EditRecord } from "../../../malmen/data/edit_record.ts";
import { Session } from "../../../examples/serve/session.ts";
import type { EditLine, EditResult } from "../../../examples/serve/protocol.ts";
import { decodeEdit, encodeEdit } from "../../../examples/serve/transfer.ts";
import { writeTinyRuns } from "../../../examples/serve/tiny_runs.ts";

const runs = await Deno.makeTempDir({ prefix: "serve_session_test_" });
const edits: EditRecord[] = await writeTinyRuns(runs, CPU, { lmEpochs: 2, metaSteps: 2 });
globalThis.addEventListener("unload", () => Deno.removeSync(runs, { recursive: true }));

async function open(journal: string): Promise<Session> {
  return await Session.open({
    lmDir: `${runs}/lm`,
    editorDirs: { malmen: `${runs}/malmen` },
    journalDir: journal,
    backend: CPU,
  });
}

// A session over a fresh journal folder, closed and removed afterwards.
async function withSession(
  fn: (session: Session, journal: string) => Promise<void>,
): Promise<void> {
  const journal = await Deno.makeTempDir();
  const session = await open(journal);
  try {
    await fn(session, journal);
  } finally {
    await session.close();
    await Deno.remove(journal, { recursive: true });
  }
}

async function logits(model: GPT): Promise<number[]> {
  const ids = tensor([[1, 2, 3, 4, 5]], undefined, { backend: CPU, dtype: "int32" });
  const out = noGrad(() => model.forward(ids));
  const values = Array.from(await out.toArray());
  out.dispose();
  ids.dispose();
  return values;
}

// The first of the facts whose prompt the model does not already continue with its new target.
async function probe(session: Session, facts: readonly EditRecord[]): Promise<EditRecord> {
  for (const f of facts) {
    if (!(await session.ask(f.prompt, 3)).trim().startsWith(f.target_new)) return f;
  }
  throw new Error("every fact already answers its new target");
}

Deno.test("a session asks, edits with progress, and reverts and re-applies exactly", async () => {
  await withSession(async (session, journal) => {
    strictEqual(session.info().editors.join(), "malmen,ft");
    const facts = edits.slice(0, 8);
    const fact = await probe(session, facts);
    const before = await session.ask(fact.prompt);
    const base = await logits(session.model);
    const lines: EditLine[] = [];
    await session.edit({ editor: "ft", records: facts, facts: [] }, (l) => lines.push(l));
    deepStrictEqual(lines.slice(0, 4), [{ phase: 0 }, { phase: 1 }, { phase: 2 }, { phase: 3 }]);
    const last = lines.at(-1) as { entry: { id: string; applied: boolean }; result: EditResult };
    deepStrictEqual([last.entry.id, last.entry.applied, last.result.m], ["1", true, 8]);
    ok(last.result.summary.es.after > last.result.summary.es.before, "FT raises ES");
    const after = await session.ask(fact.prompt);
    ok(after !== before, `the answer "${before}" did not change`);
    const edited = await logits(session.model);
    await session.setApplied("1", false);
    deepStrictEqual(await logits(session.model), base, "revert restores the model exactly");
    strictEqual(await session.ask(fact.prompt), before);
    await session.setApplied("1", true);
    deepStrictEqual(await logits(session.model), edited, "re-apply restores the edit exactly");
    // The journal: the entry, its scores and the index, nothing half-written.
    const files = [...Deno.readDirSync(journal)].map((e) => e.name).sort();
    deepStrictEqual(files, ["1.json", "1.safetensors", "index.json"]);
    strictEqual(
      JSON.parse(Deno.readTextFileSync(`${journal}/index.json`)).entries[0].applied,
      true,
    );
  });
});

Deno.test("concurrent requests are served one at a time in arrival order, and a reopened session applies the journal", async () => {
  const journal = await Deno.makeTempDir();
  const session = await open(journal);
  try {
    const done: string[] = [];
    const lines: EditLine[][] = [[], []];
    const a = session.edit({ editor: "ft", records: edits.slice(0, 4), facts: [] }, (l) => {
      lines[0].push(l);
      if ("entry" in l) done.push(`edit ${l.entry.id}`);
    });
    const b = session.edit({ editor: "ft", records: edits.slice(4, 8), facts: [] }, (l) => {
      lines[1].push(l);
      if ("entry" in l) done.push(`edit ${l.entry.id}`);
    });
    const asked = session.ask(edits[0].prompt).then((t) => (done.push("ask"), t));
    await Promise.all([a, b, asked]);
    deepStrictEqual(done, ["edit 1", "edit 2", "ask"]);
    deepStrictEqual(lines[1][0], { waiting: true }, "the second edit is told it waits");
    const both = await logits(session.model);
    const answer = await session.ask(edits[0].prompt);
    strictEqual(await asked, answer, "the ask saw both edits applied");
    await session.close();
    const reopened = await open(journal);
    try {
      deepStrictEqual(reopened.info().journal.map((e) => [e.id, e.applied]), [["1", true], [
        "2",
        true,
      ]]);
      const again = await logits(reopened.model);
      ok(again.every((x, i) => Math.abs(x - both[i]) < 1e-6), "the reopened model carries both");
    } finally {
      await reopened.close();
    }
  } finally {
    await Deno.remove(journal, { recursive: true });
  }
});

Deno.test("bad input gets the CLI's messages before any work, and the journal stays empty", async () => {
  await withSession(async (session, journal) => {
    const send = () => {};
    throws(
      () => session.edit({ editor: "rome", records: edits.slice(0, 1), facts: [] }, send),
      /Field "editor" must be one of malmen, ft, got "rome"/,
    );
    throws(
      () =>
        session.edit({ editor: "ft", records: [{ ...edits[0], target_new: "" }], facts: [] }, send),
      /records: record 0: field "target_new" must be a non-empty string, got ""/,
    );
    const fact = { subject: "Ann", prompt: "Ann lives in", target: "" };
    await rejects(
      () => session.edit({ editor: "ft", records: [], facts: [fact] }, send),
      /facts: record 0: field "target_new" must be a non-empty string/,
    );
    await rejects(() => session.edit({ editor: "ft", records: [], facts: [] }, send), /no facts/);
    await rejects(() => session.setApplied("7", true), /No journal entry "7"/);
    await rejects(() => session.ask("   "), /The prompt is empty/);
    deepStrictEqual([...Deno.readDirSync(journal)], [], "nothing was written");
  });
});

Deno.test("facts typed in the page are edited with the model's own answers as their truth", async () => {
  await withSession(async (session) => {
    const r = edits[0];
    const fact = { subject: r.subject, prompt: r.prompt, target: r.target_new, unrelated: "" };
    let result: EditResult | null = null;
    await session.edit({ editor: "ft", records: [], facts: [fact] }, (l) => {
      if ("result" in l) result = l.result;
    });
    const facts = result!.facts;
    strictEqual(facts.length, 1);
    strictEqual(facts[0].ls, null, "without an unrelated prompt there is no LS");
    strictEqual(result!.summary.lsFacts, 0);
    strictEqual(typeof facts[0].before, "string");
  });
});

Deno.test("an edit made in a tab joins the journal; one that does not fit the model is refused", async () => {
  await withSession(async (session) => {
    const { dInner, dModel } = session.model.config;
    const shift = tensor(new Float32Array(dInner * dModel).fill(0.01), [dInner, dModel], {
      backend: CPU,
    });
    const result: EditResult = {
      editor: "malmen",
      m: 1,
      seconds: 0.5,
      summary: {
        es: { before: 0, after: 1 },
        gs: { before: 0, after: 1 },
        ls: { before: 1, after: 1 },
        lsFacts: 1,
      },
      facts: [],
    };
    const body = await encodeEdit(new Map([[1, shift]]), result);
    const entry = await session.addTabEdit(body);
    deepStrictEqual([entry.id, entry.computedIn, entry.applied], ["1", "tab", true]);
    const wide = tensor(new Float32Array(4), [2, 2], { backend: CPU });
    const bad = await encodeEdit(new Map([[1, wide]]), result);
    throws(() => decodeEdit(bad, session.model), /tensor "layer.1" has shape \[2,2\]/);
    const deep = await encodeEdit(new Map([[9, shift]]), result);
    await rejects(() => session.addTabEdit(deep), /"layer.9" is not a layer of this 2-layer model/);
    strictEqual(session.info().journal.length, 1);
    for (const t of [shift, wide]) t.dispose();
  });
});
