// The journal: entries round-trip value by value for every layer; the log is append-only (each
// edit its own entry, apply and revert as events, nothing overwritten); one writer at a time;
// entries are refused for another LM; leftovers of a killed writer are removed.
import { deepStrictEqual, notDeepStrictEqual, ok, rejects } from "node:assert/strict";
import { CPU } from "../../../engine/backend.ts";
import { LockedError } from "../../../engine/io/lock.ts";
import { writeSafetensors } from "../../../engine/io/safetensors.ts";
import { NonFiniteError } from "../../../engine/nn/finite.ts";
import { tensor } from "../../../engine/ops/creation.ts";
import type { Tensor } from "../../../engine/tensor.ts";
import { readJournalEntry, writeJournalEntry } from "../../../malmen/editors/journal.ts";
import { type EditInfo, Journal } from "../../../malmen/editors/journal_log.ts";
import { ProvenanceError, setIdentity } from "../../../malmen/lm/identity.ts";
import { frozenLm } from "../_lm.ts";

const V = 11;
// frozenLm: d 8, FFN width 32, two blocks.
const SHAPE = [32, 8];
const LM = `sha256:${"c3".repeat(32)}`;

// A shift whose every value tells its layer and position apart: layer·1000 + index/8 + salt.
function shift(layer: number, salt: number): Tensor {
  const data = Float64Array.from({ length: 256 }, (_, i) => layer * 1000 + i / 8 + salt);
  return tensor(data, SHAPE, { backend: CPU });
}

function shifts(salt: number): Map<number, Tensor> {
  return new Map([[0, shift(0, salt)], [1, shift(1, salt)]]);
}

const info = (m: number): EditInfo => ({
  editor: "malmen",
  m,
  records: `sha256:${"d4".repeat(32)}`,
  lm: LM,
  input: "edits.json",
});

async function values(map: Map<number, Tensor>): Promise<Record<number, number[]>> {
  const out: Record<number, number[]> = {};
  for (const [layer, t] of map) out[layer] = Array.from(await t.toArray());
  return out;
}

const f32 = (xs: number[]) => Array.from(Float32Array.from(xs));

Deno.test("a multi-layer journal entry round-trips every layer's values exactly", async () => {
  const lm = frozenLm(V);
  const dir = await Deno.makeTempDir();
  const written = shifts(0.25);
  await writeJournalEntry(`${dir}/e.safetensors`, written, { editor: "x", m: 2, created: "t" });
  const { shifts: read } = await readJournalEntry(`${dir}/e.safetensors`, lm);
  const want = await values(written);
  const got = await values(read);
  deepStrictEqual(Object.keys(got), ["0", "1"]);
  // Layer by layer, value by value (a bug storing layer 0's shift for every layer fails here).
  deepStrictEqual(got[0], f32(want[0]));
  deepStrictEqual(got[1], f32(want[1]));
  notDeepStrictEqual(got[0], got[1]);
  for (const t of [...written.values(), ...read.values()]) t.dispose();
  lm.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("journal entries with NaN are never written and refused on read unless allowed", async () => {
  const lm = frozenLm(V);
  const dir = await Deno.makeTempDir();
  const bad = new Map([[1, tensor(new Float64Array(256).fill(NaN), SHAPE, { backend: CPU })]]);
  await rejects(
    () => writeJournalEntry(`${dir}/e.safetensors`, bad, { editor: "x", m: 1, created: "t" }),
    NonFiniteError,
  );
  ok(!(await Deno.stat(`${dir}/e.safetensors`).then(() => true, () => false)));
  await writeSafetensors(`${dir}/raw.safetensors`, {
    "h.1.mlp.c_proj.shift": { dtype: "F32", shape: SHAPE, data: new Float32Array(256).fill(NaN) },
  });
  await rejects(
    () => readJournalEntry(`${dir}/raw.safetensors`, lm),
    /raw\.safetensors" holds non-finite shifts: the shift of layer 1 has 256 of 256/,
  );
  const { shifts } = await readJournalEntry(`${dir}/raw.safetensors`, lm, { allowNonFinite: true });
  for (const t of [...bad.values(), ...shifts.values()]) t.dispose();
  lm.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the journal log is append-only: edits are entries, apply and revert are events", async () => {
  const lm = frozenLm(V);
  setIdentity(lm, LM);
  const dir = await Deno.makeTempDir();
  const j = await Journal.open(dir, { write: true });
  const e1 = await j.addEdit(shifts(0), info(2));
  const e2 = await j.addEdit(shifts(0.5), info(3));
  deepStrictEqual([e1.id, e2.id, e1.m, e2.m], [1, 2, 2, 3]);
  deepStrictEqual(j.active, [1, 2]);
  const file1 = await Deno.readFile(j.entryPath(1));
  await j.revert(1);
  deepStrictEqual(j.active, [2]);
  await rejects(() => j.revert(1), /Entry 1 of ".*" is not applied, so it cannot be reverted/);
  await rejects(() => j.apply(2), /Entry 2 of ".*" is already applied/);
  await rejects(() => j.apply(7), /has no entry 7 \(entries: 1, 2\)/);
  await j.apply(1);
  deepStrictEqual(j.active, [2, 1]);
  // The sum of the applied entries, layer by layer.
  const sum = await values(await j.activeShifts(lm));
  const a = await values(shifts(0));
  const b = await values(shifts(0.5));
  deepStrictEqual(sum[1], f32(a[1]).map((x, i) => x + f32(b[1])[i]));
  deepStrictEqual(sum[0], f32(a[0]).map((x, i) => x + f32(b[0])[i]));
  await j.close();
  // Replayed from the files: same state; every file written once, none replaced.
  const again = await Journal.open(dir);
  deepStrictEqual(again.active, [2, 1]);
  deepStrictEqual(again.events.map((e) => `${e.seq}:${e.op}:${e.entry}`), [
    "1:edit:1",
    "2:edit:2",
    "3:revert:1",
    "4:apply:1",
  ]);
  deepStrictEqual(again.entries.map((e) => [e.id, e.lm, e.records, e.input]), [
    [1, LM, info(2).records, "edits.json"],
    [2, LM, info(3).records, "edits.json"],
  ]);
  deepStrictEqual(await Deno.readFile(again.entryPath(1)), file1);
  await rejects(() => again.revert(2), /opened for reading only/);
  lm.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("one journal writer at a time; a reader is never blocked", async () => {
  const dir = await Deno.makeTempDir();
  const writer = await Journal.open(dir, { write: true });
  await rejects(() => Journal.open(dir, { write: true }), (e: Error) => {
    ok(e instanceof LockedError);
    ok(e.message.startsWith(`"${dir}" is in use by another process (pid ${Deno.pid} on `));
    ok(e.message.includes(", editing since "), e.message);
    return true;
  });
  await Journal.open(dir);
  await writer.close();
  await (await Journal.open(dir, { write: true })).close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a journal entry is refused for another LM unless forced, and a changed file is caught", async () => {
  const lm = frozenLm(V);
  setIdentity(lm, LM);
  const dir = await Deno.makeTempDir();
  const j = await Journal.open(dir, { write: true });
  await j.addEdit(shifts(0), info(1));
  setIdentity(lm, `sha256:${"e5".repeat(32)}`);
  await rejects(() => j.readShifts(1, lm), (e: Error) => {
    ok(e instanceof ProvenanceError);
    ok(
      e.message.startsWith(
        `The journal entry "${j.entryPath(1)}" was made for the LM c3c3c3c3c3c3, but the LM ` +
          `in use is e5e5e5e5e5e5`,
      ),
      e.message,
    );
    return true;
  });
  for (const t of (await j.readShifts(1, lm, { force: true })).values()) t.dispose();
  // Replacing an entry file behind the journal's back is detected.
  await Deno.remove(j.entryPath(1));
  await writeJournalEntry(j.entryPath(1), shifts(9), { editor: "x", m: 1, created: "t" });
  await rejects(() => j.readShifts(1, lm, { force: true }), /was changed after it was journaled/);
  await j.close();
  lm.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a writer removes an uncommitted entry and temp files left by a killed writer", async () => {
  const dir = await Deno.makeTempDir();
  const j = await Journal.open(dir, { write: true });
  await j.addEdit(shifts(0), info(1));
  await j.close();
  // A killed writer: entry 2 written, its event not; a temp file of a dead process.
  await writeJournalEntry(`${dir}/entries/000002.safetensors`, shifts(1), {
    editor: "x",
    m: 1,
    created: "t",
  });
  await Deno.writeTextFile(`${dir}/log/.000002.json.zzzzzz-1.tmp`, "{");
  const reader = await Journal.open(dir);
  deepStrictEqual(reader.entries.map((e) => e.id), [1], "readers ignore what is not committed");
  const w = await Journal.open(dir, { write: true });
  deepStrictEqual([...Deno.readDirSync(`${dir}/entries`)].map((e) => e.name), [
    "000001.safetensors",
  ]);
  deepStrictEqual([...Deno.readDirSync(`${dir}/log`)].map((e) => e.name), ["000001.json"]);
  deepStrictEqual((await w.addEdit(shifts(2), info(4))).id, 2);
  await w.close();
  await Deno.remove(dir, { recursive: true });
});
