/**
 * Raw data movement without autograd: contiguous copies, copies into views, fills, aliases.
 * Autograd-aware view ops live in `view.ts`.
 * @module
 */
import { empty } from "../alloc.ts";
import { collapseDims, fmtShape, type Shape, sizeOf } from "../shape.ts";
import { _installTensorMethods, Tensor } from "../tensor.ts";
import { grid1d, MAX_RANK, Uniforms } from "../../kernels/common.ts";
import { copyWgsl, fillWgsl } from "../../kernels/copy.ts";
import { type TransposeConfig, transposeKey, transposeWgsl } from "../../kernels/transpose.ts";
import type { GpuBackend } from "../backend.ts";

/** Another view of the same storage and layout (shares memory; disposing one keeps the other). */
export function alias(t: Tensor): Tensor {
  return view(t, t.shape, t.strides, t.offset);
}

/** A view of `t`'s storage with another layout (no copy, no autograd). */
export function view(t: Tensor, shape: Shape, strides: Shape, offset: number): Tensor {
  t.assertLive("view");
  t.storage.retain();
  return new Tensor(t.storage, shape, strides, offset);
}

/**
 * A contiguous copy with offset 0 (returns `t` itself when it already is one).
 * @param t Any view.
 * @returns A contiguous tensor.
 */
export function materialize(t: Tensor): Tensor {
  t.assertLive("copy");
  if (t.isContiguous && t.offset === 0) return t;
  const out = empty(t.shape, t.dtype, t.backend);
  copyInto(out, t);
  return out;
}

// Tensor.toArray() copies strided views through this (the core cannot import it).
_installTensorMethods({ materialize });

/**
 * A contiguous copy in storage of its own (never shares memory with `t`).
 * @param t Any view.
 */
export function clone(t: Tensor): Tensor {
  t.assertLive("clone");
  const out = empty(t.shape, t.dtype, t.backend);
  copyInto(out, t);
  return out;
}

/**
 * Copies `src` into the view `dst` (same shape). Used for contiguous copies, slice gradients
 * and concatenation.
 * @param dst Destination view (written).
 */
export function copyInto(dst: Tensor, src: Tensor): void {
  src.assertLive("copy");
  dst.assertLive("write");
  if (fmtShape(dst.shape) !== fmtShape(src.shape)) {
    throw new RangeError(`Cannot copy "${fmtShape(src.shape)}" into "${fmtShape(dst.shape)}"`);
  }
  if (dst.dtype !== src.dtype) {
    throw new TypeError(`Cannot copy ${src.dtype} into ${dst.dtype}`);
  }
  const n = sizeOf(src.shape);
  if (n === 0) return;
  const backend = dst.backend;
  if (backend.kind === "cpu") {
    const s = src.storage.array!;
    const d = dst.storage.array!;
    const idx = new Array<number>(src.rank).fill(0);
    for (let i = 0; i < n; i++) {
      let so = src.offset;
      let dO = dst.offset;
      for (let k = 0; k < idx.length; k++) {
        so += idx[k] * src.strides[k];
        dO += idx[k] * dst.strides[k];
      }
      d[dO] = s[so];
      for (let k = idx.length - 1; k >= 0; k--) {
        if (++idx[k] < src.shape[k]) break;
        idx[k] = 0;
      }
    }
    return;
  }
  if (src.backend !== backend) throw new TypeError("Cannot copy between backends");
  // Reading and writing one buffer in a dispatch is a validation error: stage through a copy.
  const source = src.storage.buffer === dst.storage.buffer ? materialize(src) : src;
  const c = collapseDims(src.shape, [source.strides, dst.strides]);
  if (c.shape.length > MAX_RANK) {
    throw new RangeError(`Copy of rank ${c.shape.length} exceeds the kernel limit ${MAX_RANK}`);
  }
  if (src.dtype === "float32" && tileTranspose(backend, source, dst, c)) {
    if (source !== src) source.dispose();
    return;
  }
  const type = src.dtype === "int32" ? "i32" : "f32";
  // Rows contiguous on both sides and everything else a multiple of 4: move vec4s (a quarter
  // of the loads and index math; e.g. splitting and merging attention heads).
  const v = c.strides[0].at(-1) === 1 && c.strides[1].at(-1) === 1 && c.shape.at(-1)! % 4 === 0 &&
    [source.offset, dst.offset, ...c.strides[0].slice(0, -1), ...c.strides[1].slice(0, -1)]
      .every((x) => x % 4 === 0);
  const q = v ? 4 : 1;
  const shape = v ? [...c.shape.slice(0, -1), c.shape.at(-1)! / 4] : c.shape;
  const quarter = (s: readonly number[]): number[] => s.map((x, i) => i < s.length - 1 ? x / 4 : 1);
  backend.dispatcher.run({
    key: `copy:${type}${v ? ":v4" : ""}`,
    wgsl: () => copyWgsl(type, v),
    uniforms: new Uniforms().u32(n / q, c.shape.length, source.offset / q, dst.offset / q)
      .list(shape).list(v ? quarter(c.strides[0]) : c.strides[0])
      .list(v ? quarter(c.strides[1]) : c.strides[1]).words,
    inputs: [source.binding()],
    outputs: [dst.binding()],
    workgroups: grid1d(n / q),
  });
  if (source !== src) source.dispose();
}

// A (batched) 2-D transpose into a dense destination: collapsed shape [Z?, X, Y] with the
// destination dense and row-major and the source not contiguous along Y. Runs the 4×4 tile
// kernel and returns true, or returns false for any other copy.
function tileTranspose(
  backend: GpuBackend,
  src: Tensor,
  dst: Tensor,
  c: { shape: number[]; strides: number[][] },
): boolean {
  const r = c.shape.length;
  if (r < 2 || r > 3) return false;
  const [ss, ds] = c.strides;
  const x = c.shape[r - 2];
  const y = c.shape[r - 1];
  const z = r === 3 ? c.shape[0] : 1;
  const denseDst = ds[r - 1] === 1 && ds[r - 2] === y && (r === 2 || ds[0] === x * y);
  if (!denseDst || ss[r - 1] === 1) return false;
  // Kernel view: source [Z, R, C] with R = y (read with stride ss[r-1]), C = x.
  const R = y;
  const C = x;
  const sr = ss[r - 1];
  const sc = ss[r - 2];
  const sz = r === 3 ? ss[0] : 0;
  const config: TransposeConfig = {
    vecIn: sc === 1 && C % 4 === 0 && sr % 4 === 0 && sz % 4 === 0 && src.offset % 4 === 0,
    vecOut: R % 4 === 0 && dst.offset % 4 === 0,
  };
  const tilesRow = Math.ceil(C / 4);
  const tilesMat = Math.ceil(R / 4) * tilesRow;
  backend.dispatcher.run({
    key: transposeKey(config),
    wgsl: () => transposeWgsl(config),
    uniforms: new Uniforms().u32(R, C, tilesRow, tilesMat, z * tilesMat, src.offset, sz, sr, sc)
      .u32(dst.offset).words,
    inputs: [src.binding()],
    outputs: [dst.binding()],
    workgroups: grid1d(z * tilesMat),
  });
  return true;
}

/**
 * Sets every element of a contiguous tensor to `value`.
 * @param t Destination (contiguous).
 */
export function fill(t: Tensor, value: number): void {
  t.assertLive("fill");
  if (!t.isContiguous) throw new RangeError("fill() needs a contiguous tensor");
  const n = t.size;
  if (n === 0) return;
  const backend = t.backend;
  if (backend.kind === "cpu") {
    t.storage.array!.fill(value, t.offset, t.offset + n);
    return;
  }
  const bits = new Uint32Array(1);
  if (t.dtype === "int32") new Int32Array(bits.buffer)[0] = value;
  else new Float32Array(bits.buffer)[0] = value;
  const type = t.dtype === "int32" ? "i32" : "f32";
  backend.dispatcher.run({
    key: `fill:${type}`,
    wgsl: () => fillWgsl(type),
    uniforms: new Uniforms().u32(n, bits[0], t.offset).words,
    inputs: [],
    outputs: [t.binding()],
    workgroups: grid1d(n),
  });
}
