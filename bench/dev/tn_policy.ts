// TN matmul (weight gradients xᵀ·g) vs tile transpose + NN, per shape, from GPU timestamps.
// Usage: deno run -A bench/dev/tn_policy.ts
import { initWebGpu } from "../../engine/backend.ts";
import { rand } from "../../engine/ops/creation.ts";
import { materialize, view } from "../../engine/ops/copy.ts";
import { matmul } from "../../engine/ops/matmul.ts";
import { tidy } from "../../engine/scope.ts";

const gpu = await initWebGpu();
const shapes: [number, number, number][] = Deno.args.length
  ? [Deno.args.map(Number) as [number, number, number]]
  : [
    [512, 128, 832],
    [128, 384, 832],
    [128, 512, 832],
    [128, 128, 832],
    [809, 128, 832],
    [
      256,
      128,
      1024,
    ],
    [512, 128, 1024],
    [128, 384, 1024],
    [128, 128, 1024],
  ];
for (const [m, n, k] of shapes) {
  const a = rand([k, m], { seed: 1, backend: gpu });
  const b = rand([k, n], { seed: 2, backend: gpu });
  const reps = 4;
  const run = async (f: () => void): Promise<Map<string, number>> => {
    tidy(f);
    await gpu.dispatcher.sync();
    gpu.dispatcher.startProfile();
    for (let i = 0; i < reps; i++) tidy(f);
    const rows = await gpu.dispatcher.stopProfile();
    return new Map(rows.map((r) => [r.key, r.ms / reps]));
  };
  const tn = await run(() => void matmul(a, b, { transA: true }));
  const nn = await run(() => {
    const t = materialize(view(a, [m, k], [1, m], 0));
    matmul(t, b);
  });
  const fmt = (x: Map<string, number>): string =>
    [...x].map(([key, ms]) => `${key.replace("matmul:f32:", "")} ${ms.toFixed(2)}`).join(" + ");
  const sum = (x: Map<string, number>): number => [...x.values()].reduce((s, v) => s + v, 0);
  console.log(
    `M=${m} N=${n} K=${k}: TN ${sum(tn).toFixed(2)} ms [${fmt(tn)}]  T+NN ${
      sum(nn).toFixed(2)
    } ms [${fmt(nn)}]`,
  );
  a.dispose();
  b.dispose();
}
