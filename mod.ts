/**
 * A from-scratch tensor engine for Deno on WebGPU (with a float64 CPU reference backend), a
 * GPT-2-architecture decoder, and MALMEN massive knowledge editing.
 *
 * This entry point exports the engine: tensors, tape autograd, ops, `nn` modules and AdamW,
 * safetensors I/O, the GPT model and the tokenizers. The editor lives at `./malmen`.
 *
 * @example Tensors and gradients
 * ```ts ignore
 * import { initWebGpu, matmul, sum, tensor } from "@malmen/engine";
 * await initWebGpu(); // or keep the float64 CPU backend
 * const a = tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true });
 * const loss = sum(matmul(a, a));
 * loss.backward();
 * console.log(await a.grad!.toArray());
 * ```
 * @module
 */
export * from "./engine/mod.ts";
