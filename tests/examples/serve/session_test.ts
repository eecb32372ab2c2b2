// The web app's server side without a browser: a session over a tiny trained LM asks, edits with
// progress, keeps the append-only journal of `deno task edit` (shared with the CLI: entries the
// CLI reverts or re-applies are followed, its lock is respected) whose revert and re-apply are
// exact, serves concurrent requests one at a time in arrival order, refuses bad input with the
// CLI's messages before any work, and takes edits made in a tab only when they fit the model,
// are finite and were computed on the same LM.
import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import { CPU } from "../../../engine/backend.ts";
import { noGrad } from "../../../engine/autograd.ts";
import { LockedError } from "../../../engine/io/lock.ts";
import { NonFiniteError } from "../../../engine/nn/finite.ts";
import { tensor } from "../../../engine/ops/creation.ts";
import type { GPT } from "../../../engine/models/gpt/model.ts";
import type { Tensor } from "../../../engine/tensor.ts";
import type { EditRecord } from "../../../malmen/data/edit_record.ts";
import { Journal } from "../../../malmen/editors/journal_log.ts";
import type { EditReport } from "../../../malmen/eval/report.ts";
import { dataHash, identityOf, ProvenanceError } from "../../../malmen/lm/identity.ts";
import { Session } from "../../../examples/serve/session.ts";
import type { EditLine, EditResult } from "../../../examples/serve/protocol.ts";
import { decodeEdit, encodeEdit } from "../../../examples/serve/transfer.ts";
import { writeTinyRuns } from "../../../examples/serve/tiny_runs.ts";
import { runDeno } from "../../_run.ts";

const runs = await Deno.makeTempDir({ prefix: "serve_session_test_" });
const edits: EditRecord[] = await writeTinyRuns(runs, CPU, { lmEpochs: 2, metaSteps: 2 });
globalThis.addEventListener("unload", () => Deno.removeSync(runs, { recursive: true }));

async function open(journal: string): Promise<Session> {
  return await Session.open({
    lmDir: `${runs}/lm`,
    editorDirs: { malmen: `${runs}/malmen`, memit: `${runs}/memit` },
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

// Every file under a folder, relative to it, sorted.
function tree(dir: string, prefix = ""): string[] {
  return [...Deno.readDirSync(dir)].flatMap((e) =>
    e.isDirectory ? tree(`${dir}/${e.name}`, `${prefix}${e.name}/`) : [`${prefix}${e.name}`]
  ).sort();
}

// Runs `deno task edit` with the given flags.
const cli = (...args: string[]) => runDeno(["examples/edit.ts", ...args]);

Deno.test("a session asks, edits with progress, and reverts and re-applies exactly", async () => {
  await withSession(async (session, journal) => {
    strictEqual(session.editors().join(), "malmen,ft,memit");
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
    // The journal of `deno task edit`: the entry, its records, three events and the edit's
    // report; no lock left behind, nothing half-written.
    const records = await dataHash(facts);
    const input = `${journal}/inputs/${records.replace(/^sha256:/, "")}.json`;
    deepStrictEqual(tree(journal), [
      "entries/000001.safetensors",
      input.slice(journal.length + 1),
      "log/000001.json",
      "log/000002.json",
      "log/000003.json",
      "reports/000001-edit-1.json",
      "reports/000001-edit-1.md",
    ]);
    deepStrictEqual(JSON.parse(Deno.readTextFileSync(input)), facts);
    const log = await Journal.open(journal);
    deepStrictEqual(log.events.map((e) => e.op), ["edit", "revert", "apply"]);
    deepStrictEqual(log.active, [1]);
    const { id, editor, m, lm } = log.entry(1);
    deepStrictEqual([id, editor, m, lm, log.entry(1).records], [
      1,
      "ft",
      8,
      identityOf(session.model),
      records,
    ]);
    ok(lm !== null, "the entry records the LM identity");
    const report = JSON.parse(Deno.readTextFileSync(`${journal}/reports/000001-edit-1.json`));
    deepStrictEqual([report.entry.id, report.editor, report.m, report.requests.length], [
      1,
      "ft",
      8,
      8,
    ]);
    deepStrictEqual(report.web.computedIn, "server");
    deepStrictEqual(report.web.result.summary, last.result.summary);
  });
});

Deno.test("the journal is shared with `deno task edit`: its reverts and re-applies are followed, its lock respected", async () => {
  await withSession(async (session, journal) => {
    const base = await logits(session.model);
    await session.edit({ editor: "ft", records: edits.slice(0, 4), facts: [] }, () => {});
    const edited = await logits(session.model);
    // The CLI reverts the web app's entry: the next operation sees the model without it.
    const reverted = await cli("--revert", "1", "--out", journal);
    strictEqual(reverted.code, 0, reverted.err);
    ok(reverted.out.includes("Reverted journal entry 1"), reverted.out);
    await session.ask(edits[0].prompt);
    deepStrictEqual(await logits(session.model), base, "the CLI's revert is followed exactly");
    deepStrictEqual((await session.journal()).map((e) => e.applied), [false]);
    // The CLI re-applies it, scoring on the records file the web app journaled.
    const applied = await cli(
      "--apply",
      "1",
      "--out",
      journal,
      "--lm",
      `${runs}/lm`,
      "--backend",
      "cpu",
      "--json",
    );
    strictEqual(applied.code, 0, applied.err);
    deepStrictEqual([JSON.parse(applied.out).entry, JSON.parse(applied.out).m], [1, 4]);
    await session.ask(edits[0].prompt);
    deepStrictEqual(await logits(session.model), edited, "the CLI's re-apply is followed exactly");
    // While the CLI holds the journal, the web app's writes are refused with the holder named.
    const log = await Journal.open(journal, { write: true });
    try {
      await rejects(() => session.setApplied("1", false), (e: Error) => {
        ok(e instanceof LockedError, String(e));
        ok(e.message.startsWith(`"${journal}" is in use by another process (pid ${Deno.pid}`));
        return true;
      });
    } finally {
      await log.close();
    }
    await session.setApplied("1", false);
    deepStrictEqual(await logits(session.model), base);
    const [entry] = await session.journal();
    deepStrictEqual([entry.id, entry.computedIn, entry.applied, entry.m], [
      "1",
      "server",
      false,
      4,
    ]);
    deepStrictEqual((await Journal.open(journal)).events.map((e) => e.op), [
      "edit",
      "revert",
      "apply",
      "revert",
    ]);
    // An entry the CLI made is listed with its report's scores, and applied here too.
    const input = `${journal}-facts.json`;
    await Deno.writeTextFile(input, JSON.stringify(edits.slice(4, 6)));
    try {
      const made = await cli(
        ...["--input", input, "--editor", "ft", "--out", journal, "--lm", `${runs}/lm`],
        ...["--backend", "cpu", "--json"],
      );
      strictEqual(made.code, 0, made.err);
      const row = JSON.parse(made.out);
      const cliEntry = (await session.journal())[1];
      deepStrictEqual(
        [cliEntry.id, cliEntry.computedIn, cliEntry.applied, cliEntry.editor, cliEntry.m],
        ["2", "cli", true, "ft", 2],
      );
      ok(Math.abs(cliEntry.summary!.es.after - row.es) <= 5e-5, "ES from the CLI's report");
      strictEqual(cliEntry.summary!.lsFacts, 2);
      deepStrictEqual(
        cliEntry.facts,
        edits.slice(4, 6).map((r) => `${r.prompt} → ${r.target_new}`),
      );
      await session.ask(edits[0].prompt);
      const shifted = await logits(session.model);
      ok(shifted.some((x, i) => x !== base[i]), "the CLI's entry is applied in the session");
    } finally {
      await Deno.remove(input);
    }
  });
});

Deno.test("MEMIT edits through the registry, on the unedited model, with its entry's provenance", async () => {
  await withSession(async (session, journal) => {
    const base = await logits(session.model);
    const lines: EditLine[] = [];
    await session.edit({ editor: "memit", records: edits.slice(0, 4), facts: [] }, (l) => {
      lines.push(l);
    });
    const last = lines.at(-1) as { entry: { id: string; editor: string }; result: EditResult };
    deepStrictEqual([last.entry.id, last.entry.editor, last.result.m], ["1", "memit", 4]);
    const entry = (await Journal.open(journal)).entry(1);
    deepStrictEqual([entry.editor, entry.lm], ["memit", identityOf(session.model)]);
    ok((await logits(session.model)).some((x, i) => x !== base[i]), "the edit is applied");
    await session.setApplied("1", false);
    deepStrictEqual(await logits(session.model), base, "revert restores the model exactly");
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
      deepStrictEqual((await reopened.info()).journal.map((e) => [e.id, e.applied]), [
        ["1", true],
        ["2", true],
      ]);
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
      /Field "editor" must be one of malmen, ft, memit, got "rome"/,
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
    await rejects(
      () => session.setApplied("7", true),
      (e: Error) =>
        e instanceof RangeError &&
        e.message === `The journal in "${journal}" has no entry 7 (it has none)`,
    );
    await rejects(
      () => session.setApplied("x", true),
      (e: Error) =>
        e instanceof RangeError &&
        e.message === `A journal entry id is a positive integer, got "x"`,
    );
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

Deno.test("an edit made in a tab joins the journal; one that does not fit the model, is not finite or comes from another LM is refused", async () => {
  await withSession(async (session, journal) => {
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
    const scores = { es: 1, gs: 1, ls: 1, efficacy: 1, paraphrase: 1, neighborhood: 1, score: 1 };
    const report: EditReport = {
      editor: "malmen",
      m: 1,
      seconds: 0.5,
      peak_rss_mb: 0,
      gpu_live_mb: 0,
      before: { ...scores, es: 0, gs: 0 },
      after: scores,
      excluded: 0,
      requests: [],
    };
    const lm = identityOf(session.model)!;
    const body = (shifts: Map<number, Tensor>, from = lm) =>
      encodeEdit({ shifts, result, records: [edits[0]], report, lm: from });
    const entry = await session.addTabEdit(await body(new Map([[1, shift]])));
    deepStrictEqual([entry.id, entry.computedIn, entry.applied, entry.lm], [
      "1",
      "tab",
      true,
      lm.replace(/^sha256:/, "").slice(0, 12),
    ]);
    deepStrictEqual((await Journal.open(journal)).entry(1).lm, lm, "the tab's LM is recorded");
    const wide = tensor(new Float32Array(4), [2, 2], { backend: CPU });
    throws(
      () => decodeEdit(Uint8Array.from([]), session.model),
      /the tab's edit/,
    );
    const bad = await body(new Map([[1, wide]]));
    throws(() => decodeEdit(bad, session.model), /tensor "layer.1" has shape \[2,2\]/);
    const deep = await body(new Map([[9, shift]]));
    await rejects(() => session.addTabEdit(deep), /"layer.9" is not a layer of this 2-layer model/);
    // The same checks as the server's own edits: finite shifts, made on this LM, valid records.
    const nan = tensor(
      new Float32Array(dInner * dModel).fill(0.01).fill(NaN, 3, 4),
      [dInner, dModel],
      { backend: CPU },
    );
    await rejects(
      () => body(new Map([[1, nan]])).then((b) => session.addTabEdit(b)),
      (e: Error) =>
        e instanceof NonFiniteError &&
        e.message.startsWith("Refusing the tab's edit: the shift of layer 1"),
    );
    const other = `sha256:${"0".repeat(64)}`;
    await rejects(
      () => body(new Map([[1, shift]]), other).then((b) => session.addTabEdit(b)),
      (e: Error) => e instanceof ProvenanceError && e.message.startsWith("The tab's edit was made"),
    );
    const badRecord = await encodeEdit({
      shifts: new Map([[1, shift]]),
      result,
      records: [{ ...edits[0], target_new: "" }],
      report,
      lm,
    });
    await rejects(
      () => session.addTabEdit(badRecord),
      /records: record 0: field "target_new" must be a non-empty string/,
    );
    strictEqual((await session.journal()).length, 1);
    for (const t of [shift, wide, nan]) t.dispose();
  });
});
