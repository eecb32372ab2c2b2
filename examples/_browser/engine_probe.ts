/**
 * The same seeded computations anywhere the engine runs: a set of ops with their gradients
 * (attention on both of its layouts among them), a GPT forward and a MALMEN edit. Deno runs them on its backends; bundled, a browser tab runs them
 * on its WebGPU; the browser test and `deno task browser-check` compare the two.
 * @module
 */
import { type Backend, initWebGpu } from "../../engine/backend.ts";
import { noGrad } from "../../engine/autograd.ts";
import { tidy } from "../../engine/scope.ts";
import type { Tensor } from "../../engine/tensor.ts";
import { randn, tensor } from "../../engine/ops/creation.ts";
import { gelu, mul } from "../../engine/ops/elementwise.ts";
import { crossEntropy } from "../../engine/ops/loss.ts";
import { layerNorm } from "../../engine/ops/layernorm.ts";
import { matmul } from "../../engine/ops/matmul.ts";
import { sum } from "../../engine/ops/reduce.ts";
import { softmax } from "../../engine/ops/softmax.ts";
import { causalAttention } from "../../engine/ops/attention.ts";
import { qkvCausalAttention } from "../../engine/ops/attention_qkv.ts";
import { gptConfig } from "../../engine/models/gpt/config.ts";
import { GPT } from "../../engine/models/gpt/model.ts";
import type { PromptAnswer } from "../../engine/models/gpt/batch.ts";
import { defaultEditorConfig } from "../../malmen/editors/editor.ts";
import { HyperEditor } from "../../malmen/editors/hyper.ts";
import type { EditRecord } from "../../malmen/data/edit_record.ts";
import type { EditRequest } from "../../malmen/eval/requests.ts";

/** Named results, each flattened to numbers (JSON-safe, so a page can hand them back). */
export type ProbeValues = Record<string, number[]>;

const VOCAB = 40;

// Seeded but irregular token ids in 1..VOCAB-1: prompts of 3–5 tokens, answers of 1–2.
function requests(count: number): EditRequest[] {
  const id = (i: number, j: number): number => 1 + ((i * 7 + j * 13 + i * j * 5) % (VOCAB - 1));
  const pair = (i: number, salt: number): PromptAnswer => ({
    prompt: Array.from({ length: 3 + ((i + salt) % 3) }, (_, j) => id(i + salt, j)),
    answer: Array.from({ length: 1 + ((i * salt) % 2) }, (_, j) => id(i + 2 * salt, j + 9)),
  });
  return Array.from({ length: count }, (_, i) => ({
    record: { case_id: i } as EditRecord,
    edit: pair(i, 1),
    equiv: pair(i, 2),
    unrel: pair(i, 3),
    editTrue: pair(i, 4),
    equivTrue: pair(i, 5),
    unrelNew: pair(i, 6),
  }));
}

async function read(out: ProbeValues, name: string, t: Tensor): Promise<void> {
  out[name] = Array.from(await t.toArray());
}

/**
 * Runs the probe on `backend`.
 * @returns Op outputs and gradients, the GPT's logits and the MALMEN edit's shift per layer.
 */
export async function engineProbe(backend: Backend): Promise<ProbeValues> {
  const out: ProbeValues = {};
  const a = randn([33, 47], { seed: 1, backend, requiresGrad: true });
  const b = randn([47, 29], { seed: 2, backend, requiresGrad: true });
  const gamma = randn([29], { seed: 3, backend, scale: 0.5 });
  const beta = randn([29], { seed: 4, backend, scale: 0.5 });
  const labels = tensor(Array.from({ length: 33 }, (_, i) => (i * 11) % 29), [33], {
    backend,
    dtype: "int32",
  });
  const ops = tidy(() => {
    const y = matmul(a, b);
    const normed = layerNorm(y, gamma, beta);
    const probs = softmax(gelu(normed));
    const loss = crossEntropy(mul(y, tensor(0.1, [], { backend })), labels);
    // Both losses share `y`: the first walk keeps the graph so the second reaches a and b too.
    sum(mul(probs, normed)).backward(undefined, { retainGraph: true });
    loss.backward();
    return { y, normed, probs, loss };
  });
  await read(out, "matmul", ops.y);
  await read(out, "layerNorm", ops.normed);
  await read(out, "softmax(gelu)", ops.probs);
  await read(out, "crossEntropy", ops.loss);
  await read(out, "grad a", a.grad!);
  await read(out, "grad b", b.grad!);
  for (const t of [a, b, gamma, beta, labels, ...Object.values(ops)]) t.dispose();
  await attentionProbe(out, backend);

  const config = gptConfig({
    vocabSize: VOCAB,
    nCtx: 12,
    dModel: 16,
    nLayer: 2,
    nHead: 2,
    layerNormEps: 1e-5,
  });
  const model = new GPT(config, { seed: 3, backend });
  model.setTrainable(false);
  try {
    const ids = tensor([[1, 5, 9, 2, 33, 7, 21, 4]], undefined, { backend, dtype: "int32" });
    const logits = noGrad(() => model.forward(ids));
    await read(out, "gpt logits", logits);
    ids.dispose();
    logits.dispose();
    const config = { ...defaultEditorConfig(2), lmBatch: 4, rank: 8, etaInit: 0.5 };
    const editor = new HyperEditor("malmen", model, config);
    try {
      const shifts = await editor.computeShifts(model, requests(6));
      for (const [layer, shift] of shifts) {
        await read(out, `malmen shift ${layer}`, shift);
        shift.dispose();
      }
    } finally {
      editor.dispose();
    }
  } finally {
    model.dispose();
  }
  return out;
}

// Fused attention forward and backward, on [B, H, T, hd] heads (dk and dv written through one
// binding) and on a [B, T, 3d] projection (the three gradients written into one tensor), with
// head sizes that are and are not whole vec4s.
async function attentionProbe(out: ProbeValues, backend: Backend): Promise<void> {
  for (const [hd, seed] of [[4, 11], [3, 13]]) {
    const [q, k, v] = [0, 1, 2].map((i) =>
      randn([2, 2, 5, hd], { seed: seed + i, backend, requiresGrad: true })
    );
    const qkv = randn([2, 5, 6 * hd], { seed: seed + 3, backend, requiresGrad: true });
    const ys = tidy(() => {
      const heads = causalAttention(q, k, v);
      const fused = qkvCausalAttention(qkv, 2);
      // Uneven weights, so every output element's gradient differs.
      const w = (t: Tensor): Tensor => mul(t, softmax(t));
      sum(w(heads)).backward();
      sum(w(fused)).backward();
      return { heads, fused };
    });
    await read(out, `attention hd ${hd}`, ys.heads);
    await read(out, `qkv attention hd ${hd}`, ys.fused);
    for (const [name, t] of [["q", q], ["k", k], ["v", v], ["qkv", qkv]] as const) {
      await read(out, `attention hd ${hd} grad ${name}`, t.grad!);
    }
    for (const t of [q, k, v, qkv, ys.heads, ys.fused]) t.dispose();
  }
}

/**
 * In a tab: the probe on the browser's WebGPU.
 * @returns The values, and the adapter that computed them.
 */
export async function browserProbe(): Promise<{ adapter: string; values: ProbeValues }> {
  const gpu = await initWebGpu();
  const info = (await navigator.gpu.requestAdapter())?.info;
  const adapter = [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(" ");
  return { adapter: adapter || gpu.adapter, values: await engineProbe(gpu) };
}

/**
 * How far `actual` is from `expected`, per value: the largest absolute difference relative to
 * the largest magnitude expected (Infinity for a missing value or a length mismatch).
 * @returns Name → relative error.
 */
export function probeErrors(actual: ProbeValues, expected: ProbeValues): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, want] of Object.entries(expected)) {
    const got = actual[name];
    if (got === undefined || got.length !== want.length) {
      out[name] = Infinity;
      continue;
    }
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < want.length; i++) {
      diff = Math.max(diff, Math.abs(got[i] - want[i]));
      scale = Math.max(scale, Math.abs(want[i]));
    }
    out[name] = Number.isNaN(diff) ? Infinity : diff / Math.max(scale, 1e-30);
  }
  return out;
}
