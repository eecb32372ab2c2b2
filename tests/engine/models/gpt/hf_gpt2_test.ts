import { deepStrictEqual as assertEquals, rejects as assertRejects } from "node:assert/strict";
import { assertClose } from "../../../_check.ts";
import { gpuTest } from "../../../_gpu.ts";
import { type Backend, CPU } from "../../../../engine/backend.ts";
import { noGrad } from "../../../../engine/autograd.ts";
import { tensor } from "../../../../engine/ops/creation.ts";
import { type SafeTensor, writeSafetensors } from "../../../../engine/io/safetensors.ts";
import { configToHf, gptConfig } from "../../../../engine/models/gpt/config.ts";
import { GPT } from "../../../../engine/models/gpt/model.ts";
import { loadHfGpt2 } from "../../../../engine/models/gpt/hf_gpt2.ts";
import { loadCheckpoint, saveCheckpoint } from "../../../../engine/models/gpt/checkpoint.ts";
import { seededInts } from "./_fixtures.ts";
import { randomModel, SMALL } from "./_models.ts";

// Writes an HF-style directory from a model's parameters: "transformer."-prefixed names, the
// attention bias buffers and a tied lm_head, as transformers saves GPT-2.
async function writeHfDir(
  dir: string,
  model: GPT,
  edit: (t: Map<string, SafeTensor>) => void = () => {},
): Promise<void> {
  const tensors = new Map<string, SafeTensor>();
  for (const [name, p] of model.parameters()) {
    const data = Float32Array.from(await p.toArray());
    tensors.set(`transformer.${name}`, { dtype: "F32", shape: [...p.shape], data });
  }
  const t = model.config.nCtx;
  for (let l = 0; l < model.config.nLayer; l++) {
    const mask = Float32Array.from(
      { length: t * t },
      (_, i) => (i % t <= Math.floor(i / t) ? 1 : 0),
    );
    tensors.set(`transformer.h.${l}.attn.bias`, { dtype: "F32", shape: [1, 1, t, t], data: mask });
    tensors.set(`transformer.h.${l}.attn.masked_bias`, {
      dtype: "F32",
      shape: [],
      data: new Float32Array([-1e4]),
    });
  }
  tensors.set("lm_head.weight", tensors.get("transformer.wte.weight")!);
  edit(tensors);
  await writeSafetensors(`${dir}/model.safetensors`, tensors, { format: "pt" });
  const json = {
    ...configToHf(model.config),
    n_ctx: undefined,
    architectures: ["GPT2LMHeadModel"],
  };
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(json));
}

async function logitsOf(model: GPT, backend: Backend): Promise<Float32Array | Float64Array> {
  const ids = tensor(seededInts(2 * 7, SMALL.vocabSize, 3), [2, 7], { backend, dtype: "int32" });
  return await noGrad(() => model.logits(ids)).toArray() as Float32Array | Float64Array;
}

for (const kind of ["cpu", "webgpu"] as const) {
  const register = kind === "cpu"
    ? (name: string, fn: (b: Backend) => Promise<void>) => Deno.test(name, () => fn(CPU))
    : gpuTest;
  register(
    `\`loadHfGpt2()\` loads an HF-layout directory whose forward matches the source model${
      kind === "cpu" ? "" : " on WebGPU"
    }`,
    async (backend) => {
      const dir = await Deno.makeTempDir();
      try {
        const source = randomModel(SMALL, backend, 2);
        await writeHfDir(dir, source);
        const loaded = await loadHfGpt2(dir, { backend });
        assertEquals(loaded.config, SMALL);
        // Exact on WebGPU; on the CPU the file's float32 rounding shows at ~1e-8.
        const tol = backend.kind === "cpu" ? { atol: 1e-6, rtol: 1e-6 } : { atol: 0, rtol: 0 };
        assertClose(
          await logitsOf(loaded, backend),
          await logitsOf(source, backend),
          tol,
          "logits",
        );
        source.dispose();
        loaded.dispose();
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  );
}

Deno.test("`loadHfGpt2()` accepts names without the transformer. prefix", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const source = randomModel(SMALL, CPU, 3);
    await writeHfDir(dir, source, (t) => {
      for (const [k, v] of [...t]) {
        if (!k.startsWith("transformer.")) continue;
        t.delete(k);
        t.set(k.slice("transformer.".length), v);
      }
      t.delete("lm_head.weight");
    });
    const loaded = await loadHfGpt2(dir, { backend: CPU });
    assertClose(await logitsOf(loaded, CPU), await logitsOf(source, CPU), {
      atol: 1e-6,
      rtol: 1e-6,
    }, "logits");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`loadHfGpt2()` names the missing tensor, the wrong shape and unexpected tensors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const source = new GPT(SMALL, { backend: CPU });
    await writeHfDir(dir, source, (t) => t.delete("transformer.h.1.mlp.c_fc.bias"));
    await assertRejects(
      () => loadHfGpt2(dir, { backend: CPU }),
      /missing tensor "h.1.mlp.c_fc.bias"/,
    );
    await writeHfDir(dir, source, (t) => {
      const w = t.get("transformer.h.0.attn.c_attn.weight")!;
      t.set("transformer.h.0.attn.c_attn.weight", { ...w, shape: [45, 15] });
    });
    await assertRejects(
      () => loadHfGpt2(dir, { backend: CPU }),
      /tensor "transformer.h.0.attn.c_attn.weight" has shape "\[45,15\]", the model expects "\[15,45\]"/,
    );
    await writeHfDir(
      dir,
      source,
      (t) => t.set("transformer.h.0.extra", t.get("transformer.ln_f.bias")!),
    );
    await assertRejects(
      () => loadHfGpt2(dir, { backend: CPU }),
      /unexpected tensor "transformer.h.0.extra"/,
    );
    await Deno.writeTextFile(`${dir}/config.json`, "{}");
    await assertRejects(
      () => loadHfGpt2(dir, { backend: CPU }),
      /field "vocab_size" must be a number/,
    );
    source.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

gpuTest("`GPT` refuses a parameter larger than the adapter's largest storage binding", (gpu) => {
  const limit = gpu.dispatcher.device.limits.maxStorageBufferBindingSize;
  const vocab = Math.floor(limit / 4 / 8) + 1;
  const config = gptConfig({ ...SMALL, vocabSize: vocab, dModel: 8, nHead: 2 });
  let message = "";
  try {
    new GPT(config, { backend: gpu });
  } catch (e) {
    message = (e as Error).message;
  }
  assertEquals(
    message,
    `Parameter "wte.weight" "[${vocab},8]" needs ${vocab * 32} bytes, more than this adapter's ` +
      `largest storage binding (${limit} bytes)`,
  );
});

Deno.test("`saveCheckpoint()` and `loadCheckpoint()` round-trip weights, config and extra", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const source = randomModel(SMALL, CPU, 4);
    await saveCheckpoint(`${dir}/ckpt`, source, { step: 120, note: "tiny" });
    const { model, extra } = await loadCheckpoint(`${dir}/ckpt`, { backend: CPU });
    assertEquals(extra, { step: 120, note: "tiny" });
    assertEquals(model.config, SMALL);
    // Stored as F32: equal to the float32 rounding of the source.
    for (const [name, p] of source.parameters()) {
      const want = Array.from(Float32Array.from(await p.toArray()));
      assertEquals(Array.from(await model.getParameter(name).toArray()), want, name);
    }
    // A save interrupted after the weights is detected.
    const other = randomModel(SMALL, CPU, 5);
    const config = await Deno.readTextFile(`${dir}/ckpt/config.json`);
    await saveCheckpoint(`${dir}/ckpt`, other);
    await Deno.writeTextFile(`${dir}/ckpt/config.json`, config);
    await assertRejects(
      () => loadCheckpoint(`${dir}/ckpt`, { backend: CPU }),
      /come from different saves/,
    );
    for (const m of [source, model, other]) m.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`saveCheckpoint()` rejects extra values without a JSON form before writing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const model = new GPT(SMALL, { backend: CPU });
    await assertRejects(() => saveCheckpoint(dir, model, { n: 1n }), TypeError);
    assertEquals([...Deno.readDirSync(dir)].length, 0);
    model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`loadHfGpt2()` refuses weights holding NaN by tensor name, unless asked to load them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const source = randomModel(SMALL, CPU, 4);
    await writeHfDir(dir, source, (t) => {
      const w = t.get("transformer.h.1.mlp.c_proj.weight")!;
      const data = Float32Array.from(w.data as Float32Array);
      data[5] = NaN;
      t.set("transformer.h.1.mlp.c_proj.weight", { ...w, data });
    });
    await assertRejects(
      () => loadHfGpt2(dir, { backend: CPU }),
      /model\.safetensors" holds non-finite values[\s\S]*h\.1\.mlp\.c_proj\.weight/,
    );
    await assertRejects(() => loadCheckpoint(dir, { backend: CPU }), /non-finite/);
    const loaded = await loadHfGpt2(dir, { backend: CPU, allowNonFinite: true });
    const w = await loaded.parameters().get("h.1.mlp.c_proj.weight")!.toArray();
    assertEquals(Number.isNaN(w[5]), true);
    loaded.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
