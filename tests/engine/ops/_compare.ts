// GPU-vs-reference comparison for inputs too large for finite differences: runs `fn` forward
// and backward (with a fixed non-uniform upstream gradient) on both backends.
import { type Backend, CPU, type GpuBackend } from "../../../engine/backend.ts";
import { rng, tensor } from "../../../engine/ops/creation.ts";
import { tidy } from "../../../engine/scope.ts";
import { type Shape, sizeOf } from "../../../engine/shape.ts";
import type { Tensor } from "../../../engine/tensor.ts";
import { assertClose, type Tol } from "../../_check.ts";
import { gpu } from "../../_gpu.ts";

/** One input: random floats in [lo, hi] (with gradient) or fixed int32 values. */
export type CompareInput = { shape: Shape; range: [number, number] } | {
  shape: Shape;
  ints: ArrayLike<number>;
};

async function runOn(
  backend: Backend,
  inputs: readonly CompareInput[],
  fn: (xs: Tensor[]) => Tensor,
): Promise<{ out: ArrayLike<number>; grads: ArrayLike<number>[] }> {
  const next = rng(7);
  const xs = inputs.map((s) =>
    "ints" in s ? tensor(s.ints, s.shape, { backend, dtype: "int32" }) : tensor(
      Float64Array.from(
        { length: sizeOf(s.shape) },
        () => s.range[0] + (s.range[1] - s.range[0]) * next(),
      ),
      s.shape,
      { backend, requiresGrad: true },
    )
  );
  const out = tidy(() => {
    const y = fn(xs);
    const up = tensor(Float64Array.from({ length: y.size }, () => 0.5 + next()), y.shape, {
      backend,
    });
    y.backward(up);
    return y;
  });
  const result = {
    out: await out.toArray(),
    grads: await Promise.all(xs.filter((x) => x.grad).map((x) => x.grad!.toArray())),
  };
  for (const x of xs) {
    x.grad?.dispose();
    x.dispose();
  }
  out.dispose();
  return result;
}

/**
 * The test device presented as a hardware adapter, so that row kernels take the plans they would
 * take on a discrete GPU (a workgroup per long row) while running on this machine's adapter.
 * @returns A backend sharing the test device's dispatcher.
 */
export function hardwareStyle(): GpuBackend {
  return { ...gpu!, isFallbackAdapter: false };
}

/**
 * Asserts that WebGPU matches the float64 reference, forward and gradients.
 * @param inputs Input specs.
 * @param fn The op under test.
 * @param fwd Forward tolerance.
 * @param grad Gradient tolerance.
 * @param backend The WebGPU backend to test (default: the test device).
 */
export async function compareBackends(
  inputs: readonly CompareInput[],
  fn: (xs: Tensor[]) => Tensor,
  fwd: Tol,
  grad: Tol,
  backend: GpuBackend = gpu!,
): Promise<void> {
  const ref = await runOn(CPU, inputs, fn);
  const got = await runOn(backend, inputs, fn);
  assertClose(got.out, ref.out, fwd, "forward");
  ref.grads.forEach((g, k) => assertClose(got.grads[k], g, grad, `input ${k} gradient`));
}
