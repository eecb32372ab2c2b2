// The decisive test: on a tiny GPT, the hyper-network gradients produced by the memory-bounded
// scheduler (phases A–F, closed-form back-solve, chunked recomputation) equal plain autograd
// through the whole pipeline: hyper-network → ridge solve → edited LM → meta-loss.
import { assertClose } from "../../_check.ts";
import { gpuTest } from "../../_gpu.ts";
import { type Backend, CPU } from "../../../engine/backend.ts";
import { rng, tensor } from "../../../engine/ops/creation.ts";
import { matmul } from "../../../engine/ops/matmul.ts";
import { add, mul } from "../../../engine/ops/elementwise.ts";
import { concat } from "../../../engine/ops/concat.ts";
import { slice } from "../../../engine/ops/view.ts";
import { keep, tidy } from "../../../engine/scope.ts";
import type { Tensor } from "../../../engine/tensor.ts";
import { noGrad } from "../../../engine/autograd.ts";
import { GPT } from "../../../engine/models/gpt/model.ts";
import { gptConfig } from "../../../engine/models/gpt/config.ts";
import { disposeBatch, editBatch } from "../../../engine/models/gpt/batch.ts";
import { lmLoss } from "../../../engine/models/gpt/model.ts";
import { AdamW } from "../../../engine/nn/adamw.ts";
import { HyperEditor } from "../../../malmen/editors/hyper.ts";
import { defaultEditorConfig } from "../../../malmen/editors/editor.ts";
import type { HyperNetwork } from "../../../malmen/algorithm/hypernet.ts";
import { ridgeSolve } from "../../../malmen/algorithm/ridge_solve.ts";
import { cacheEdits, disposeCache, type KeyPositions } from "../../../malmen/algorithm/capture.ts";
import { clearShifts, getShift, setShift } from "../../../malmen/algorithm/shifts.ts";
import { answerLogProbs, klDivergence } from "../../../malmen/algorithm/meta_loss.ts";
import { metaStep } from "../../../malmen/algorithm/scheduler.ts";
import { batches, type EditRequest } from "../../../malmen/eval/requests.ts";
import { randomRequests } from "../_requests.ts";

const V = 23;
const LM_BATCH = 2; // 5 facts: mini-batches of 2, 2, 1 (not a multiple of the batch).
const CHUNK = 3; // hyper-network chunks cut across LM mini-batches (see `RowChunker`).

function requests(count: number): EditRequest[] {
  return randomRequests(count, V, 7);
}

/** What a test varies besides the backend and editor. */
interface Variant {
  /** FFN width (default 4·dModel). */
  dInner?: number;
  /** The meta-loss also covers the edit tuples. */
  editLoss?: boolean;
  /** A key prior μ·E[uuᵀ] in the least-squares solve (random SPD statistics). */
  keyPrior?: boolean;
  /** Where keys and value-gradients are taken (default every answer token). */
  keyPositions?: KeyPositions;
}

function setup(backend: Backend, editorName: "malmen" | "mend", v: Variant = {}) {
  const { dInner, editLoss = false, keyPrior = false, keyPositions = "answer" } = v;
  const model = new GPT(
    gptConfig({
      vocabSize: V,
      nCtx: 8,
      dModel: 8,
      nLayer: 2,
      nHead: 2,
      dInner,
      layerNormEps: 1e-5,
    }),
    { seed: 3, backend },
  );
  model.setTrainable(false);
  const config = {
    ...defaultEditorConfig(2),
    layers: [0, 1],
    lmBatch: LM_BATCH,
    chunk: CHUNK,
    rank: 7,
    etaInit: 0.3,
    editLoss,
    keyPrior: keyPrior ? 0.7 : 0,
    keyPositions,
  };
  const editor = new HyperEditor(editorName, model, config);
  randomize(editor.net);
  if (keyPrior) {
    // E[uuᵀ]-like statistics: AᵀA / n of random rows, one per layer.
    const dIn = editor.net.dIn;
    editor.setKeyMoments([0, 1].map((l) => {
      const next = rng(20 + l);
      const a = tensor(Array.from({ length: 40 * dIn }, () => 2 * next() - 1), [40, dIn], {
        backend,
      });
      const m = keep(noGrad(() => mul(matmul(a, a, { transA: true }), 1 / 40)));
      a.dispose();
      return m;
    }));
  }
  return { model, editor };
}

// A non-identity network with non-degenerate statistics, so every parameter gets a gradient.
function randomize(net: HyperNetwork): void {
  const next = rng(11);
  const vals = (n: number, scale: number, shift = 0): number[] =>
    Array.from({ length: n }, () => shift + scale * (2 * next() - 1));
  const d = net.dim;
  net.normalizer.loadState({
    count: 40,
    mean: vals(d, 0.1),
    m2: vals(d, 1, 30),
    std: vals(d, 0.2, 1),
  });
  net.normalizer.frozen = true;
  const state = new Map([...net.parameters()].map(([name, t]) => {
    const shift = name.endsWith("scale") ? 1 : name === "eta" ? 0.5 : name === "lamHat" ? -1 : 0;
    return [name, { shape: t.shape, data: vals(t.size, name.endsWith(".A") ? 0.5 : 0.3, shift) }];
  }));
  net.loadStateDict(state);
}

async function schedulerGrads(
  backend: Backend,
  name: "malmen" | "mend",
  v: Variant = {},
): Promise<Map<string, Float64Array>> {
  const { model, editor } = setup(backend, name, v);
  // lr 0: the step leaves the parameters alone and the arena keeps the gradients.
  const optimizer = new AdamW(editor.net, { lr: 0, weightDecay: 0, maxGradNorm: 1e9 });
  await metaStep(model, editor, optimizer, requests(5));
  const out = new Map<string, Float64Array>();
  for (const [n, p] of editor.net.parameters()) {
    out.set(n, Float64Array.from(await p.grad!.toArray()));
  }
  optimizer.dispose();
  editor.dispose();
  model.dispose();
  return out;
}

async function plainGrads(
  backend: Backend,
  name: "malmen" | "mend",
  v: Variant = {},
): Promise<Map<string, Float64Array>> {
  const { model, editor } = setup(backend, name, v);
  const net = editor.net;
  for (const p of net.parameters().values()) p.requiresGrad = true;
  const reqs = requests(5);
  const c = editor.config;
  const at = c.keyPositions;
  const cache = cacheEdits(model, reqs.map((r) => r.edit), c.layers, c.lmBatch, undefined, at);
  tidy(() => {
    c.layers.forEach((layer, k) => {
      const keys = concat(cache.batches.map((b) => b[k].keys));
      const grads = concat(cache.batches.map((b) => b[k].valueGrads));
      let shift: Tensor;
      if (name === "malmen") {
        const d = net.valueDiffs(keys, grads, k);
        shift = ridgeSolve(keys, d, slice(net.lamHat, [k], [k + 1]), {
          prior: editor.keyPrior?.[k],
        });
      } else {
        shift = net.mendShift(keys, grads, k);
      }
      setShift(model, layer, shift);
    });
    let loss: Tensor | null = null;
    const o = { backend, maxLength: 8 };
    const made: ReturnType<typeof editBatch>[] = [];
    const genBatches = [
      ...batches(reqs.map((r) => r.equiv), c.lmBatch),
      ...(v.editLoss ? batches(reqs.map((r) => r.edit), c.lmBatch) : []),
    ];
    for (const mb of genBatches) {
      const b = editBatch(mb, o);
      made.push(b);
      const l = lmLoss(model.forward(b.ids), b.labels);
      loss = loss ? add(loss, l) : l;
    }
    const shifts = c.layers.map((l) => getShift(model, l));
    for (const mb of batches(reqs.map((r) => r.unrel), c.lmBatch)) {
      const b = editBatch(mb, o);
      made.push(b);
      clearShifts(model);
      const ref = noGrad(() => answerLogProbs(model.forward(b.ids), b));
      c.layers.forEach((l, i) => setShift(model, l, shifts[i]));
      const kl = mul(klDivergence(ref, answerLogProbs(model.forward(b.ids), b)), c.locCoef);
      loss = add(loss!, kl);
    }
    loss!.backward();
    for (const b of made) disposeBatch(b);
  });
  clearShifts(model);
  disposeCache(cache);
  const out = new Map<string, Float64Array>();
  for (const [n, p] of net.parameters()) {
    out.set(n, p.grad ? Float64Array.from(await p.grad.toArray()) : new Float64Array(p.size));
  }
  editor.dispose();
  model.dispose();
  return out;
}

async function compare(
  backend: Backend,
  name: "malmen" | "mend",
  tol: { atol: number; rtol: number },
  v: Variant = {},
): Promise<void> {
  const a = await schedulerGrads(backend, name, v);
  const b = await plainGrads(backend, name, v);
  let nonzero = 0;
  for (const [n, g] of b) {
    assertClose(a.get(n)!, g, tol, `${name} gradient of "${n}"`);
    if (g.some((x) => Math.abs(x) > 1e-9)) nonzero++;
  }
  // Every parameter (blocks, η, λ̂ for MALMEN) must actually receive gradient: a vacuous match
  // of zeros would prove nothing.
  const expected = name === "malmen" ? b.size : b.size - 1;
  if (nonzero < expected) {
    throw new Error(`only ${nonzero} of ${b.size} parameters received a gradient`);
  }
}

// A variant must change the scheduled gradient of `param` (first entry): otherwise the option
// would do nothing and its equality test would prove nothing new.
async function assertChangesGradient(v: Variant, param: string): Promise<void> {
  const off = await schedulerGrads(CPU, "malmen");
  const on = await schedulerGrads(CPU, "malmen", v);
  const name = [...on.keys()].find((n) => n.includes(param))!;
  if (Math.abs(on.get(name)![0] - off.get(name)![0]) < 1e-9) {
    throw new Error(`${JSON.stringify(v)} had no effect on the gradient of "${name}"`);
  }
}

Deno.test("`metaStep()` MALMEN gradients equal plain autograd through the whole pipeline (float64)", async () => {
  await compare(CPU, "malmen", { atol: 1e-9, rtol: 1e-6 });
});

Deno.test("`metaStep()` MEND-sum gradients equal plain autograd through the whole pipeline (float64)", async () => {
  await compare(CPU, "mend", { atol: 1e-9, rtol: 1e-6 });
});

Deno.test("`metaStep()` MALMEN gradients equal plain autograd with a non-4d FFN width (float64)", async () => {
  // dInner 6 < the rows of 5 facts: the primal solve, keys of width ≠ 4·dModel.
  await compare(CPU, "malmen", { atol: 1e-9, rtol: 1e-6 }, { dInner: 6 });
});

Deno.test("`metaStep()` with the edit term equals plain autograd of CE(equiv + edit) + KL (float64)", async () => {
  await compare(CPU, "malmen", { atol: 1e-9, rtol: 1e-6 }, { editLoss: true });
  await assertChangesGradient({ editLoss: true }, "eta");
});

Deno.test("`metaStep()` with a key prior equals plain autograd through the prior's solve (float64)", async () => {
  // 5 facts give fewer rows than d_in = 32: without the prior this would be the dual form.
  await compare(CPU, "malmen", { atol: 1e-9, rtol: 1e-6 }, { keyPrior: true });
  await assertChangesGradient({ keyPrior: true }, "lamHat");
});

for (const keyPositions of ["first", "all"] as const) {
  const where = keyPositions === "first"
    ? "the first answer token"
    : "every prompt and answer token";
  Deno.test(`\`metaStep()\` with keys at ${where} equals plain autograd (float64)`, async () => {
    await compare(CPU, "malmen", { atol: 1e-9, rtol: 1e-6 }, { keyPositions });
    await compare(CPU, "mend", { atol: 1e-9, rtol: 1e-6 }, { keyPositions });
    await assertChangesGradient({ keyPositions }, "eta");
  });
}

gpuTest(
  "`metaStep()` MALMEN gradients on WebGPU match plain autograd within float32 tolerance",
  async (gpu) => {
    await compare(gpu, "malmen", { atol: 2e-4, rtol: 2e-2 });
  },
);
