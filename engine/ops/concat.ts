/**
 * Joining tensors: `concat` along an existing axis and `stack` along a new one. Each piece is
 * copied into a slice view of the output (no dedicated kernel); the gradient of each input is a
 * view of the upstream gradient.
 * @module
 */
import { empty } from "../alloc.ts";
import { record } from "./tape.ts";
import { fmtShape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { copyInto, view } from "./copy.ts";

// Checks what concat and stack share: a non-empty list of live tensors with one rank, dtype and
// backend, and shapes that agree except on `skip` (-1: nowhere; `where` ends the message).
function checkPieces(op: string, tensors: readonly Tensor[], skip: number, where: string): void {
  if (tensors.length === 0) throw new RangeError(`${op}() needs at least one tensor`);
  const first = tensors[0];
  tensors.forEach((t, i) => {
    t.assertLive(op);
    if (t.rank !== first.rank) {
      throw new RangeError(
        `${op}() got tensor ${i} of rank ${t.rank} ("${fmtShape(t.shape)}") but tensor 0 of rank ` +
          `${first.rank} ("${fmtShape(first.shape)}")`,
      );
    }
    if (t.dtype !== first.dtype) {
      throw new TypeError(
        `${op}() got tensor ${i} of dtype ${t.dtype} but tensor 0 of dtype ${first.dtype}`,
      );
    }
    if (t.backend !== first.backend) {
      throw new TypeError(
        `${op}() got tensor ${i} on ${t.backend.kind} but tensor 0 on ${first.backend.kind}`,
      );
    }
    const d = t.shape.findIndex((n, k) => k !== skip && n !== first.shape[k]);
    if (d >= 0) {
      throw new RangeError(
        `Cannot ${op} tensor ${i} of shape "${fmtShape(t.shape)}" with tensor 0 of shape ` +
          `"${fmtShape(first.shape)}"${where}: dimension ${d} differs`,
      );
    }
  });
}

function normalizeAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new RangeError(`${op}() axis ${axis} is out of range for a result of rank ${rank}`);
  }
  return a;
}

/**
 * Concatenates tensors along an existing axis.
 * @param tensors Pieces (same rank, dtype and backend; shapes equal except along `axis`).
 * @param axis Axis to join along (negative counts from the end).
 * @returns A new contiguous tensor.
 */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  const rank = tensors[0]?.rank ?? 0;
  const ax = tensors.length === 0 ? 0 : normalizeAxis("concat", axis, rank);
  checkPieces("concat", tensors, ax, ` along axis ${ax}`);
  const first = tensors[0];
  const shape = [...first.shape];
  shape[ax] = tensors.reduce((s, t) => s + t.shape[ax], 0);
  const out = empty(shape, first.dtype, first.backend);
  const starts: number[] = [];
  let start = 0;
  for (const t of tensors) {
    starts.push(start);
    const region = view(out, t.shape, out.strides, start * out.strides[ax]);
    copyInto(region, t);
    region.dispose();
    start += t.shape[ax];
  }
  return record(
    out,
    "concat",
    tensors,
    (g) => tensors.map((t, i) => view(g, t.shape, g.strides, g.offset + starts[i] * g.strides[ax])),
  );
}

/**
 * Stacks same-shaped tensors along a new axis.
 * @param tensors Pieces (same shape, dtype and backend).
 * @param axis Position of the new axis in the result (negative counts from the end).
 * @returns A new contiguous tensor of rank `tensors[0].rank + 1`.
 */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  const rank = (tensors[0]?.rank ?? 0) + 1;
  const ax = tensors.length === 0 ? 0 : normalizeAxis("stack", axis, rank);
  checkPieces("stack", tensors, -1, "");
  const first = tensors[0];
  const shape = [...first.shape];
  shape.splice(ax, 0, tensors.length);
  const out = empty(shape, first.dtype, first.backend);
  const dropAxis = (strides: readonly number[]): number[] => strides.filter((_, k) => k !== ax);
  tensors.forEach((t, i) => {
    const region = view(out, t.shape, dropAxis(out.strides), i * out.strides[ax]);
    copyInto(region, t);
    region.dispose();
  });
  return record(
    out,
    "stack",
    tensors,
    (g) =>
      tensors.map((t, i) => view(g, t.shape, dropAxis(g.strides), g.offset + i * g.strides[ax])),
  );
}
