// The MEMIT editor: one edit on a tiny trained LM makes the new target win (at the paper's
// subject position and at the prompt's last token), the editor saves and loads (recording the LM
// it was set up on, refused for another unless forced; non-finite covariances neither written nor
// read), and bad settings or requests fail with errors that name them.
import { deepStrictEqual, ok, rejects, throws } from "node:assert/strict";
import { assertClose } from "../../_check.ts";
import { CPU } from "../../../engine/backend.ts";
import { gptConfig } from "../../../engine/models/gpt/config.ts";
import { zeros } from "../../../engine/ops/creation.ts";
import { keyCovariances } from "../../../malmen/algorithm/key_prior.ts";
import { getShift } from "../../../malmen/algorithm/shifts.ts";
import type { Tensor } from "../../../engine/tensor.ts";
import { applyShifts, revertShifts } from "../../../malmen/editors/journal.ts";
import { pairStats } from "../../../malmen/lm/evaluate.ts";
import {
  checkMemitSettings,
  defaultMemitSettings,
  MemitEditor,
  type MemitSettings,
  paperMemitSettings,
} from "../../../malmen/editors/memit.ts";
import { scoreEdit } from "../../../malmen/eval/edit_and_score.ts";
import { writeSafetensors } from "../../../engine/io/safetensors.ts";
import { NonFiniteError } from "../../../engine/nn/finite.ts";
import { tensor } from "../../../engine/ops/creation.ts";
import { ProvenanceError, setIdentity } from "../../../malmen/lm/identity.ts";
import { toRequests } from "../../../malmen/eval/requests.ts";
import { encodeFact } from "../../../malmen/lm/corpus.ts";
import { trainLm } from "../../../malmen/lm/train.ts";
import { frozenLm, tinyWorld } from "../_lm.ts";
import { randomRequests } from "../_requests.ts";

const { world, corpus, tokenizer } = await tinyWorld();

// A 2-block LM trained for a fixed 15 epochs on the tiny world (no time limit, so the model does
// not depend on the machine's speed).
async function trainedLm() {
  const dir = await Deno.makeTempDir();
  const r = await trainLm(corpus, tokenizer, {
    outDir: dir,
    config: gptConfig({
      vocabSize: tokenizer.vocabSize,
      nCtx: 24,
      dModel: 16,
      nLayer: 2,
      nHead: 2,
      layerNormEps: 1e-5,
    }),
    backend: CPU,
    batchSize: 16,
    lr: 1e-2,
    warmup: 5,
    maxEpochs: 15,
    maxSeconds: 1e9,
    evalEvery: 1000,
    checkpointEvery: 1e9,
  });
  await Deno.remove(dir, { recursive: true });
  r.model.setTrainable(false);
  return r.model;
}

Deno.test("one MEMIT edit on a tiny trained LM makes the new target likelier than the old one", async () => {
  const lm = await trainedLm();
  const texts = corpus.training.map((f) => {
    const p = encodeFact(tokenizer, f);
    return [...p.prompt, ...p.answer];
  });
  const requests = toRequests(tokenizer, world.edit, 24);
  // Facts the unedited LM still answers with their true answer (efficacy 0 before the edit).
  // The paper's form at the subject, and the defaults at the prompt's last token, each on
  // block 0 with the old 25 steps.
  const cases = [
    { settings: { ...paperMemitSettings(2), klWeight: 0.0625 }, request: requests[15] },
    { settings: { position: "prompt" as const, layers: [0], klWeight: 0 }, request: requests[0] },
  ];
  for (const { settings: overrides, request } of cases) {
    const settings = { ...defaultMemitSettings(2), lambda: 1, steps: 25, ...overrides };
    const position = settings.position;
    const editor = new MemitEditor(lm, settings, keyCovariances(lm, texts, [0]));
    const o = await scoreEdit(lm, editor, [request]);
    deepStrictEqual(o.before.efficacy, 0, `${position}: the old answer wins before the edit`);
    deepStrictEqual(o.after.efficacy, 1, `${position}: the new answer wins after the edit`);
    ok(o.after.es > o.before.es, `${position}: ES ${o.before.es} → ${o.after.es}`);
    // One key per layer and fact: one ΔW meets it almost exactly.
    ok(editor.lastFit !== null && editor.lastFit[0] < 0.1, `${position}: ${editor.lastFit}`);
    // The model is left as it was.
    deepStrictEqual(getShift(lm, 0), null);
    editor.dispose();
  }
  lm.dispose();
});

const V = 19;

Deno.test("a saved MEMIT editor loads and edits the same", async () => {
  const lm = frozenLm(V);
  const texts = randomRequests(30, V, 3).map((r) => [...r.edit.prompt, ...r.edit.answer]);
  const settings: MemitSettings = {
    ...defaultMemitSettings(2),
    layers: [0, 1],
    position: "prompt",
    lambda: 2,
    steps: 4,
    batch: 3,
  };
  const editor = new MemitEditor(lm, settings, keyCovariances(lm, texts, [0, 1]));
  const reqs = randomRequests(5, V, 4);
  const before = await editor.computeShifts(lm, reqs);
  deepStrictEqual([...before.keys()], [0, 1]);
  const dir = await Deno.makeTempDir();
  await editor.save(dir, { note: "kept" });
  const meta = JSON.parse(await Deno.readTextFile(`${dir}/memit.json`));
  deepStrictEqual(meta.settings, settings);
  deepStrictEqual(meta.note, "kept");
  const loaded = await MemitEditor.load(dir, lm);
  const after = await loaded.computeShifts(lm, reqs);
  // The covariances are stored as float32, and a random LM's keys nearly span only d of their
  // d_in directions, so ΔW differs in directions no key uses: compare what the edits do.
  const edited = async (shifts: Map<number, Tensor>) => {
    applyShifts(lm, shifts);
    const s = await pairStats(lm, reqs.flatMap((r) => [r.edit, r.unrel]));
    revertShifts(lm);
    return s.nll;
  };
  assertClose(await edited(after), await edited(before), { atol: 1e-6, rtol: 1e-4 });
  for (const t of [...before.values(), ...after.values()]) t.dispose();
  await Deno.remove(`${dir}/key_covariance.safetensors`);
  await rejects(() => MemitEditor.load(dir, lm), /MEMIT needs its key covariances/);
  await Deno.writeTextFile(`${dir}/memit.json`, JSON.stringify({ editor: "malmen" }));
  await rejects(() => MemitEditor.load(dir, lm), /not a MEMIT editor/);
  await Deno.remove(dir, { recursive: true });
  editor.dispose();
  loaded.dispose();
  lm.dispose();
});

Deno.test("a saved MEMIT editor records its LM and is refused for another; NaN covariances are neither written nor read", async () => {
  const lm = frozenLm(V);
  const other = frozenLm(V, 6);
  setIdentity(lm, `sha256:${"a".repeat(64)}`);
  setIdentity(other, `sha256:${"b".repeat(64)}`);
  const texts = randomRequests(30, V, 3).map((r) => [...r.edit.prompt, ...r.edit.answer]);
  const settings: MemitSettings = { ...defaultMemitSettings(2), layers: [1], steps: 2 };
  const editor = new MemitEditor(lm, settings, keyCovariances(lm, texts, [1]));
  const dir = await Deno.makeTempDir();
  await editor.save(dir);
  deepStrictEqual(JSON.parse(await Deno.readTextFile(`${dir}/memit.json`)).lm, editor.lm);
  await rejects(
    () => MemitEditor.load(dir, other),
    (e: Error) =>
      e instanceof ProvenanceError &&
      e.message.startsWith(`The MEMIT editor in "${dir}" was made for the LM aaaaaaaaaaaa`),
  );
  const forced = await MemitEditor.load(dir, other, { force: true });
  forced.dispose();
  const d = lm.config.dInner;
  const nan = new Float32Array(d * d).fill(0.5);
  nan[7] = NaN;
  const bad = new MemitEditor(lm, settings, new Map([[1, tensor(nan, [d, d], { backend: CPU })]]));
  const elsewhere = await Deno.makeTempDir();
  await rejects(
    () => bad.save(elsewhere),
    (e: Error) => e instanceof NonFiniteError && e.message.includes('tensor "layer1"'),
  );
  deepStrictEqual([...Deno.readDirSync(elsewhere)].map((e) => e.name), [], "nothing written");
  await writeSafetensors(`${dir}/key_covariance.safetensors`, {
    layer1: { dtype: "F32", shape: [d, d], data: nan },
  });
  await rejects(
    () => MemitEditor.load(dir, lm),
    (e: Error) => e instanceof NonFiniteError && e.message.includes("holds non-finite values"),
  );
  for (const f of [dir, elsewhere]) await Deno.remove(f, { recursive: true });
  for (const x of [editor, bad]) x.dispose();
  for (const m of [lm, other]) m.dispose();
});

Deno.test("MEMIT rejects bad settings and requests with errors that name them", async () => {
  const good = defaultMemitSettings(4);
  const bad: [Partial<MemitSettings>, RegExp][] = [
    [{ layers: [] }, /"layers" must be a non-empty list of blocks/],
    [{ layers: [1, 4] }, /"layers" must be blocks of the model \(0 to 3\), got \[1,4\]/],
    [{ layers: [2, 1] }, /"layers" must be strictly ascending, got \[2,1\]/],
    [{ layers: [1, 1] }, /"layers" must be strictly ascending/],
    [
      { position: "object" as MemitSettings["position"] },
      /"position" must be "subject" or "prompt", got "object"/,
    ],
    [{ lambda: 0 }, /"lambda" must be a finite number > 0, got 0/],
    [{ lr: NaN }, /"lr" must be a finite number > 0, got null/],
    [{ clamp: -1 }, /"clamp" must be a finite number > 0, got -1/],
    [{ klWeight: -0.1 }, /"klWeight" must be a finite number ≥ 0, got -0.1/],
    [{ decay: Infinity }, /"decay" must be a finite number ≥ 0/],
    [{ steps: 0 }, /"steps" must be an integer ≥ 1, got 0/],
    [{ batch: 2.5 }, /"batch" must be an integer ≥ 1, got 2.5/],
  ];
  for (const [change, message] of bad) {
    throws(() => checkMemitSettings({ ...good, ...change }, 4), message);
  }
  checkMemitSettings(good, 4);
  const lm = frozenLm(V);
  const d = lm.config.dInner;
  const s = { ...defaultMemitSettings(2), layers: [0, 1] };
  throws(
    () => new MemitEditor(lm, s, new Map([[0, zeros([d, d], { backend: CPU })]])),
    /no key covariance for layer 1/,
  );
  throws(
    () =>
      new MemitEditor(
        lm,
        s,
        new Map([[0, zeros([d, d], { backend: CPU })], [1, zeros([d, 3], { backend: CPU })]]),
      ),
    /the key covariance of layer 1 must be "\[32,32\]", got "\[32,3\]"/,
  );
  throws(() => new MemitEditor(lm, { ...s, layers: [0, 2] }, new Map()), /0 to 1/);
  const texts = randomRequests(10, V, 5).map((r) => [...r.edit.prompt, ...r.edit.answer]);
  const editor = new MemitEditor(
    lm,
    { ...s, position: "subject" },
    keyCovariances(lm, texts, [0, 1]),
  );
  await rejects(() => editor.computeShifts(lm, []), /at least one request/);
  // Random requests carry no subject position: the "subject" position names the request.
  await rejects(
    () => editor.computeShifts(lm, randomRequests(2, V, 6)),
    /Request 0 \(case 0\): its subject "undefined" does not occur in its prompt/,
  );
  editor.dispose();
  lm.dispose();
});
