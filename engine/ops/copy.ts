/**
 * Raw data movement without autograd: contiguous copies, copies into views, fills, aliases.
 * Autograd-aware view ops live in `view.ts`.
 * @module
 */
import { empty } from "../alloc.ts";
import { collapseDims, fmtShape, type Shape, sizeOf } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { grid1d, MAX_RANK, Uniforms } from "../../kernels/common.ts";
import { copyWgsl, fillWgsl } from "../../kernels/copy.ts";

/**
 * Another view of the same storage and layout (shares memory; disposing one keeps the other).
 * @param t The tensor.
 * @returns A new view.
 */
export function alias(t: Tensor): Tensor {
  return view(t, t.shape, t.strides, t.offset);
}

/**
 * A view of `t`'s storage with another layout (no copy, no autograd).
 * @param t Source tensor.
 * @param shape New shape.
 * @param strides New strides.
 * @param offset New element offset.
 * @returns The view.
 */
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

/**
 * A contiguous copy in storage of its own (never shares memory with `t`).
 * @param t Any view.
 * @returns The copy.
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
 * @param src Source view.
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
  const type = src.dtype === "int32" ? "i32" : "f32";
  backend.dispatcher.run({
    key: `copy:${type}`,
    wgsl: () => copyWgsl(type),
    uniforms: new Uniforms().u32(n, c.shape.length, source.offset, dst.offset)
      .list(c.shape).list(c.strides[0]).list(c.strides[1]).words,
    inputs: [source.binding()],
    outputs: [dst.binding()],
    workgroups: grid1d(n),
  });
  if (source !== src) source.dispose();
}

/**
 * Sets every element of a contiguous tensor to `value`.
 * @param t Destination (contiguous).
 * @param value The value.
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
