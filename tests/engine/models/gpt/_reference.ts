// A naive float64 GPT-2 forward written from the Hugging Face definition with plain loops, as
// an independent check of the model's layout conventions (q/k/v order, head split, GELU form,
// LayerNorm, output layer: lm_head.weight when the weights have one, else the tied wte).
import type { GPTConfig } from "../../../../engine/models/gpt/config.ts";

type Weights = ReadonlyMap<string, ArrayLike<number>>;

function layerNorm(x: number[], w: ArrayLike<number>, b: ArrayLike<number>, eps: number): number[] {
  const n = x.length;
  const mean = x.reduce((s, v) => s + v, 0) / n;
  const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
  return x.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * w[i] + b[i]);
}

// y = x·W + b with W stored [in, out] (HF Conv1D).
function conv1d(x: number[], w: ArrayLike<number>, b: ArrayLike<number>, out: number): number[] {
  const y = Array.from({ length: out }, (_, j) => b[j]);
  for (let i = 0; i < x.length; i++) for (let j = 0; j < out; j++) y[j] += x[i] * w[i * out + j];
  return y;
}

function geluNew(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}

/**
 * Logits of one sequence.
 * @param c Configuration.
 * @param w Parameters by name.
 * @param ids Token ids.
 * @returns `[T][V]` logits.
 */
export function referenceLogits(c: GPTConfig, w: Weights, ids: readonly number[]): number[][] {
  const d = c.dModel;
  const hd = d / c.nHead;
  const p = (name: string) => w.get(name)!;
  let x = ids.map((id, t) =>
    Array.from({ length: d }, (_, j) => p("wte.weight")[id * d + j] + p("wpe.weight")[t * d + j])
  );
  for (let l = 0; l < c.nLayer; l++) {
    const h = (n: string) => p(`h.${l}.${n}`);
    const qkv = x.map((r) =>
      conv1d(
        layerNorm(r, h("ln_1.weight"), h("ln_1.bias"), c.layerNormEps),
        h("attn.c_attn.weight"),
        h("attn.c_attn.bias"),
        3 * d,
      )
    );
    const merged = x.map(() => new Array<number>(d).fill(0));
    for (let head = 0; head < c.nHead; head++) {
      const col = (part: number, t: number, j: number) => qkv[t][part * d + head * hd + j];
      for (let t = 0; t < x.length; t++) {
        const scores: number[] = [];
        for (let s = 0; s <= t; s++) {
          let dot = 0;
          for (let j = 0; j < hd; j++) dot += col(0, t, j) * col(1, s, j);
          scores.push(dot / Math.sqrt(hd));
        }
        const m = Math.max(...scores);
        const e = scores.map((v) => Math.exp(v - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j < hd; j++) {
          merged[t][head * hd + j] = e.reduce((acc, pr, s) => acc + (pr / z) * col(2, s, j), 0);
        }
      }
    }
    x = x.map((r, t) => {
      const a = conv1d(merged[t], h("attn.c_proj.weight"), h("attn.c_proj.bias"), d);
      return r.map((v, j) => v + a[j]);
    });
    x = x.map((r) => {
      const f = conv1d(
        layerNorm(r, h("ln_2.weight"), h("ln_2.bias"), c.layerNormEps),
        h("mlp.c_fc.weight"),
        h("mlp.c_fc.bias"),
        c.dInner,
      )
        .map(geluNew);
      const m = conv1d(f, h("mlp.c_proj.weight"), h("mlp.c_proj.bias"), d);
      return r.map((v, j) => v + m[j]);
    });
  }
  const head = w.get("lm_head.weight") ?? p("wte.weight");
  return x.map((r) => {
    const n = layerNorm(r, p("ln_f.weight"), p("ln_f.bias"), c.layerNormEps);
    return Array.from({ length: c.vocabSize }, (_, v) => {
      let s = 0;
      for (let j = 0; j < d; j++) s += n[j] * head[v * d + j];
      return s;
    });
  });
}
