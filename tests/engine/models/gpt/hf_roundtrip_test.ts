// HF GPT-2 checkpoints built by hand in transformers' layout — tied and untied output layer,
// F32 and F16 — load with the logits of an independent float64 forward, survive a write with
// `saveCheckpoint()` bit-exactly, and configurations this engine does not compute are refused.
import { deepStrictEqual, notDeepStrictEqual, rejects } from "node:assert/strict";
import { assertClose } from "../../../_check.ts";
import { gpuTest } from "../../../_gpu.ts";
import { type Backend, CPU } from "../../../../engine/backend.ts";
import { noGrad } from "../../../../engine/autograd.ts";
import { tensor } from "../../../../engine/ops/creation.ts";
import {
  readSafetensors,
  type SafeTensor,
  writeSafetensors,
} from "../../../../engine/io/safetensors.ts";
import {
  type GPTConfig,
  gptConfig,
  parameterShapes,
} from "../../../../engine/models/gpt/config.ts";
import type { GPT } from "../../../../engine/models/gpt/model.ts";
import { loadCheckpoint, saveCheckpoint } from "../../../../engine/models/gpt/checkpoint.ts";
import { seeded, seededInts } from "./_fixtures.ts";
import { referenceLogits } from "./_reference.ts";
import { SMALL } from "./_models.ts";

const T = 7;
const TOKENS = seededInts(2 * T, SMALL.vocabSize, 3);

interface Checkpoint {
  dir: string;
  /** The weights as stored (after the file's rounding), by bare name. */
  weights: Map<string, Float32Array>;
}

// Writes config.json and model.safetensors as transformers saves GPT-2: "transformer."-prefixed
// names, the attention buffers, and lm_head.weight (a copy of wte when tied, its own when not).
async function hfCheckpoint(
  dir: string,
  options: { tied: boolean; dtype: "F32" | "F16"; config?: Record<string, unknown> },
): Promise<Checkpoint> {
  const c: GPTConfig = gptConfig({ ...SMALL, tieWordEmbeddings: options.tied });
  const stored = new Map<string, SafeTensor>();
  let seed = 40;
  for (const [name, shape] of parameterShapes(c)) {
    const data = Float32Array.from(seeded(shape, seed++, -0.5, 0.5));
    const key = name === "lm_head.weight" ? name : `transformer.${name}`;
    stored.set(key, { dtype: options.dtype, shape, data });
  }
  if (options.tied) stored.set("lm_head.weight", stored.get("transformer.wte.weight")!);
  for (let l = 0; l < c.nLayer; l++) {
    const mask = Float32Array.from(
      { length: c.nCtx ** 2 },
      (_, i) => i % c.nCtx <= i / c.nCtx ? 1 : 0,
    );
    stored.set(`transformer.h.${l}.attn.bias`, {
      dtype: "F32",
      shape: [1, 1, c.nCtx, c.nCtx],
      data: mask,
    });
  }
  await writeSafetensors(`${dir}/model.safetensors`, stored, { format: "pt" });
  await Deno.writeTextFile(
    `${dir}/config.json`,
    JSON.stringify({
      model_type: "gpt2",
      architectures: ["GPT2LMHeadModel"],
      activation_function: "gelu_new",
      vocab_size: c.vocabSize,
      n_positions: c.nCtx,
      n_embd: c.dModel,
      n_layer: c.nLayer,
      n_head: c.nHead,
      n_inner: null,
      layer_norm_epsilon: c.layerNormEps,
      scale_attn_weights: true,
      tie_word_embeddings: options.tied,
      ...options.config,
    }),
  );
  // What the file holds after its rounding (F16 keeps ~3 decimal digits).
  const { tensors } = await readSafetensors(`${dir}/model.safetensors`);
  const weights = new Map<string, Float32Array>();
  for (const name of parameterShapes(c).keys()) {
    const key = name === "lm_head.weight" ? name : `transformer.${name}`;
    weights.set(name, tensors.get(key)!.data as Float32Array);
  }
  return { dir, weights };
}

async function logits(model: GPT, backend: Backend): Promise<number[]> {
  const ids = tensor(TOKENS, [2, T], { backend, dtype: "int32" });
  return Array.from(await noGrad(() => model.logits(ids)).toArray());
}

function expected(weights: Map<string, Float32Array>, config: GPTConfig): number[] {
  return [0, 1].flatMap((b) =>
    referenceLogits(config, weights, TOKENS.slice(b * T, (b + 1) * T)).flat()
  );
}

async function withDirs(fn: (a: string, b: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/a`);
    await fn(`${dir}/a`, `${dir}/b`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function roundTrip(backend: Backend, tied: boolean, dtype: "F32" | "F16"): Promise<void> {
  await withDirs(async (a, b) => {
    const ckpt = await hfCheckpoint(a, { tied, dtype });
    const { model } = await loadCheckpoint(a, { backend });
    deepStrictEqual(model.config.tieWordEmbeddings, tied);
    deepStrictEqual(model.lm_head === null, tied);
    const got = await logits(model, backend);
    const want = expected(ckpt.weights, model.config);
    // Float64 on the CPU; float32 arithmetic on WebGPU.
    const tol = backend.kind === "cpu" ? { atol: 1e-10, rtol: 1e-10 } : { atol: 2e-5, rtol: 1e-4 };
    assertClose(got, want, tol, `logits (${tied ? "tied" : "untied"}, ${dtype})`);
    if (!tied) {
      // The untied head is really used: the same weights with wte as the head differ.
      const asTied = new Map(ckpt.weights);
      asTied.delete("lm_head.weight");
      notDeepStrictEqual(
        got.map((x) => x.toFixed(3)),
        expected(asTied, model.config).map((x) => x.toFixed(3)),
      );
    }
    await saveCheckpoint(b, model);
    const again = await loadCheckpoint(b, { backend });
    deepStrictEqual(await logits(again.model, backend), got, "logits after the round trip");
    for (const [name, p] of model.parameters()) {
      deepStrictEqual(
        Array.from(await again.model.getParameter(name).toArray()),
        Array.from(await p.toArray()),
        name,
      );
    }
    model.dispose();
    again.model.dispose();
  });
}

for (const tied of [true, false]) {
  for (const dtype of ["F32", "F16"] as const) {
    const what = `${tied ? "tied" : "untied"} ${dtype}`;
    Deno.test(`an HF GPT-2 checkpoint (${what}) loads with reference logits and round-trips bit-exactly`, () =>
      roundTrip(CPU, tied, dtype));
    gpuTest(
      `an HF GPT-2 checkpoint (${what}) round-trips bit-exactly on WebGPU`,
      (gpu) => roundTrip(gpu, tied, dtype),
    );
  }
}

Deno.test("an HF config this engine does not compute is refused by name", async () => {
  await withDirs(async (a) => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { activation_function: "gelu" },
        /config.json: activation_function "gelu" is not supported \(this engine computes the tanh GELU: gelu_new, gelu_pytorch_tanh, gelu_fast\)/,
      ],
      [{ activation_function: "relu" }, /activation_function "relu" is not supported/],
      [
        { model_type: "gpt_neo" },
        /model_type "gpt_neo" is not supported \(only GPT-2 checkpoints load\)/,
      ],
      [
        { scale_attn_by_inverse_layer_idx: true },
        /scale_attn_by_inverse_layer_idx true is not supported/,
      ],
      [{ scale_attn_weights: false }, /scale_attn_weights false is not supported/],
      [{ add_cross_attention: true }, /add_cross_attention true is not supported/],
      [
        { tie_word_embeddings: "no" },
        /field "tie_word_embeddings" must be true or false, got "no"/,
      ],
    ];
    for (const [config, message] of cases) {
      await hfCheckpoint(a, { tied: true, dtype: "F32", config });
      await rejects(() => loadCheckpoint(a, { backend: CPU }), message);
    }
    for (const activation of ["gelu_new", "gelu_pytorch_tanh", "gelu_fast"]) {
      await hfCheckpoint(a, {
        tied: true,
        dtype: "F32",
        config: { activation_function: activation },
      });
      (await loadCheckpoint(a, { backend: CPU })).model.dispose();
    }
  });
});

Deno.test("an untied HF checkpoint without lm_head.weight is refused, naming why it is needed", async () => {
  await withDirs(async (a) => {
    await hfCheckpoint(a, { tied: false, dtype: "F32" });
    const { tensors } = await readSafetensors(`${a}/model.safetensors`);
    tensors.delete("lm_head.weight");
    await writeSafetensors(`${a}/model.safetensors`, tensors);
    await rejects(
      () => loadCheckpoint(a, { backend: CPU }),
      /missing tensor "lm_head.weight" \(config.json unties the output layer: tie_word_embeddings is false\)/,
    );
  });
});
