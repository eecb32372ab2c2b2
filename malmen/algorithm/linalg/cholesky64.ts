/**
 * Float64 Cholesky factorisation and solves in TypeScript (the CPU path of the MALMEN ridge
 * solve, and the reference of the GPU kernels). Tile-blocked so the inner products run on
 * cache-resident blocks through {@linkcode gemmNTSub}.
 * @module
 */
import { type Block64, gemmNTSub } from "./gemm64.ts";

/** Tile edge of the blocked algorithms. */
const NB = 64;

/** A Cholesky factor `M = L·Lᵀ` of an SPD matrix, with `U = Lᵀ` for the backward sweep. */
export interface Cholesky64 {
  /** Order of the matrix. */
  readonly n: number;
  /** L, row-major n × n, zeros above the diagonal. */
  readonly l: Float64Array;
  /** U = Lᵀ, row-major n × n, zeros below the diagonal. */
  readonly u: Float64Array;
}

function blk(data: Float64Array, row: number, col: number, ld: number): Block64 {
  return { data, offset: row * ld + col, ld };
}

/**
 * Factors a symmetric positive definite matrix (only its lower triangle is read).
 * @param m Row-major n × n values (not modified).
 * @param n Order.
 * @throws {RangeError} When a pivot is not positive (the matrix is not positive definite).
 */
export function cholesky64(m: ArrayLike<number>, n: number): Cholesky64 {
  if (m.length !== n * n) {
    throw new RangeError(`Cannot factor ${m.length} values as a "[${n},${n}]" matrix`);
  }
  const a = Float64Array.from(m);
  for (let i0 = 0; i0 < n; i0 += NB) {
    const ib = Math.min(NB, n - i0);
    for (let j0 = 0; j0 < i0; j0 += NB) {
      // Off-diagonal tile: subtract the finished columns, then finish the tile's own columns.
      gemmNTSub(blk(a, i0, j0, n), blk(a, i0, 0, n), blk(a, j0, 0, n), ib, NB, j0);
      finishOffDiagonal(a, n, i0, ib, j0, NB);
    }
    // Diagonal tile: only its lower triangle, strip by strip.
    for (let s = 0; s < ib; s += 4) {
      const rows = Math.min(4, ib - s);
      gemmNTSub(blk(a, i0 + s, i0, n), blk(a, i0 + s, 0, n), blk(a, i0, 0, n), rows, s + rows, i0);
    }
    finishDiagonal(a, n, i0, ib);
  }
  for (let i = 0; i < n; i++) a.fill(0, i * n + i + 1, (i + 1) * n);
  return { n, l: a, u: transpose64(a, n, n) };
}

function finishDiagonal(a: Float64Array, n: number, i0: number, ib: number): void {
  for (let j = i0; j < i0 + ib; j++) {
    const rj = j * n;
    let s = a[rj + j];
    for (let k = i0; k < j; k++) s -= a[rj + k] * a[rj + k];
    if (!(s > 0)) {
      throw new RangeError(
        `Cannot factor a matrix that is not positive definite: pivot ${j} is ${s}`,
      );
    }
    const d = Math.sqrt(s);
    a[rj + j] = d;
    for (let i = j + 1; i < i0 + ib; i++) {
      const ri = i * n;
      let t = a[ri + j];
      for (let k = i0; k < j; k++) t -= a[ri + k] * a[rj + k];
      a[ri + j] = t / d;
    }
  }
}

function finishOffDiagonal(
  a: Float64Array,
  n: number,
  i0: number,
  ib: number,
  j0: number,
  jb: number,
): void {
  for (let j = j0; j < j0 + jb; j++) {
    const rj = j * n;
    const d = a[rj + j];
    for (let i = i0; i < i0 + ib; i++) {
      const ri = i * n;
      let t = a[ri + j];
      for (let k = j0; k < j; k++) t -= a[ri + k] * a[rj + k];
      a[ri + j] = t / d;
    }
  }
}

/**
 * Row-major transpose.
 * @param x Values, rows × cols.
 * @param rows Rows of `x`.
 * @param cols Columns of `x`.
 * @returns `xᵀ`, cols × rows.
 */
export function transpose64(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  const T = 32;
  for (let i0 = 0; i0 < rows; i0 += T) {
    for (let j0 = 0; j0 < cols; j0 += T) {
      const i1 = Math.min(i0 + T, rows), j1 = Math.min(j0 + T, cols);
      for (let i = i0; i < i1; i++) {
        for (let j = j0; j < j1; j++) out[j * rows + i] = x[i * cols + j];
      }
    }
  }
  return out;
}

/**
 * Solves `M·x = y` for every row `y` of `yt` in place (`yt` is m × n: one right-hand side per
 * row, the transposed layout that keeps both sweeps on contiguous rows).
 * @param f The factor of M.
 * @param yt Right-hand sides, row-major m × n; overwritten by the solutions.
 * @param m Number of right-hand sides.
 */
export function solveRows64(f: Cholesky64, yt: Float64Array, m: number): void {
  const n = f.n;
  if (yt.length !== m * n) {
    throw new RangeError(`Cannot solve ${yt.length} values as "[${m},${n}]" right-hand sides`);
  }
  forwardRows(f.l, n, yt, m);
  backwardRows(f.u, n, yt, m);
}

// L·x = y per row of yt, ascending tiles.
function forwardRows(l: Float64Array, n: number, yt: Float64Array, m: number): void {
  for (let r0 = 0; r0 < m; r0 += NB) {
    const rb = Math.min(NB, m - r0);
    for (let i0 = 0; i0 < n; i0 += NB) {
      const ib = Math.min(NB, n - i0);
      gemmNTSub(blk(yt, r0, i0, n), blk(yt, r0, 0, n), blk(l, i0, 0, n), rb, ib, i0);
      for (let i = i0; i < i0 + ib; i++) {
        const li = i * n;
        const d = l[li + i];
        for (let r = r0; r < r0 + rb; r++) {
          const yr = r * n;
          let t = yt[yr + i];
          for (let k = i0; k < i; k++) t -= yt[yr + k] * l[li + k];
          yt[yr + i] = t / d;
        }
      }
    }
  }
}

// Lᵀ·x = y per row of yt (U = Lᵀ), descending tiles.
function backwardRows(u: Float64Array, n: number, yt: Float64Array, m: number): void {
  for (let r0 = 0; r0 < m; r0 += NB) {
    const rb = Math.min(NB, m - r0);
    for (let i1 = n; i1 > 0; i1 -= NB) {
      const i0 = Math.max(0, i1 - NB);
      const ib = i1 - i0;
      gemmNTSub(blk(yt, r0, i0, n), blk(yt, r0, i1, n), blk(u, i0, i1, n), rb, ib, n - i1);
      for (let i = i1 - 1; i >= i0; i--) {
        const ui = i * n;
        const d = u[ui + i];
        for (let r = r0; r < r0 + rb; r++) {
          const yr = r * n;
          let t = yt[yr + i];
          for (let k = i + 1; k < i1; k++) t -= yt[yr + k] * u[ui + k];
          yt[yr + i] = t / d;
        }
      }
    }
  }
}

/**
 * Solves `M·X = B` for a row-major n × m right-hand side.
 * @param f The factor of M.
 * @param b Row-major n × m values (not modified).
 * @param m Columns of B.
 * @returns X, row-major n × m.
 */
export function solve64(f: Cholesky64, b: ArrayLike<number>, m: number): Float64Array {
  const yt = transpose64(b, f.n, m);
  solveRows64(f, yt, m);
  return transpose64(yt, m, f.n);
}
