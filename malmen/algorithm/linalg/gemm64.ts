/**
 * The float64 micro-kernel behind the CPU Cholesky factorisation and triangular solves:
 * `C −= A·Bᵀ` on row-major blocks, where every row of A and B is contiguous, so each output is
 * a dot product of two contiguous rows.
 * @module
 */

/** A row-major block inside a flat float64 array. */
export interface Block64 {
  /** Backing values. */
  readonly data: Float64Array;
  /** Index of element (0, 0). */
  readonly offset: number;
  /** Distance between consecutive rows (the leading dimension). */
  readonly ld: number;
}

/** Depth of one pass over k: keeps the A and B rows of a pass in the L2 cache. */
const K_CHUNK = 256;

/**
 * `C[i][j] −= Σ_k A[i][k]·B[j][k]` for `i < m`, `j < n`, `k < depth` (the "NT" product).
 * Works in passes of {@linkcode K_CHUNK} columns with 4×2 register blocks.
 * @param c Output block (m × n), updated in place.
 * @param a Left block (m × depth).
 * @param b Right block (n × depth).
 * @param m Rows of C.
 * @param n Columns of C.
 * @param depth Shared inner length.
 */
export function gemmNTSub(
  c: Block64,
  a: Block64,
  b: Block64,
  m: number,
  n: number,
  depth: number,
): void {
  for (let k0 = 0; k0 < depth; k0 += K_CHUNK) {
    const kl = Math.min(K_CHUNK, depth - k0);
    gemmPass(c, a, b, m, n, k0, kl);
  }
}

function gemmPass(
  c: Block64,
  a: Block64,
  b: Block64,
  m: number,
  n: number,
  k0: number,
  kl: number,
): void {
  const A = a.data, B = b.data, C = c.data;
  const lda = a.ld, ldb = b.ld, ldc = c.ld;
  let i = 0;
  for (; i + 3 < m; i += 4) {
    const a0 = a.offset + i * lda + k0, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
    const c0 = c.offset + i * ldc;
    let j = 0;
    for (; j + 1 < n; j += 2) {
      const b0 = b.offset + j * ldb + k0, b1 = b0 + ldb;
      let s00 = 0, s01 = 0, s10 = 0, s11 = 0, s20 = 0, s21 = 0, s30 = 0, s31 = 0;
      for (let k = 0; k < kl; k++) {
        const x0 = B[b0 + k], x1 = B[b1 + k];
        const y0 = A[a0 + k], y1 = A[a1 + k], y2 = A[a2 + k], y3 = A[a3 + k];
        s00 += y0 * x0;
        s01 += y0 * x1;
        s10 += y1 * x0;
        s11 += y1 * x1;
        s20 += y2 * x0;
        s21 += y2 * x1;
        s30 += y3 * x0;
        s31 += y3 * x1;
      }
      const o = c0 + j;
      C[o] -= s00;
      C[o + 1] -= s01;
      C[o + ldc] -= s10;
      C[o + ldc + 1] -= s11;
      C[o + 2 * ldc] -= s20;
      C[o + 2 * ldc + 1] -= s21;
      C[o + 3 * ldc] -= s30;
      C[o + 3 * ldc + 1] -= s31;
    }
    if (j < n) {
      const b0 = b.offset + j * ldb + k0;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = 0; k < kl; k++) {
        const x = B[b0 + k];
        s0 += A[a0 + k] * x;
        s1 += A[a1 + k] * x;
        s2 += A[a2 + k] * x;
        s3 += A[a3 + k] * x;
      }
      const o = c0 + j;
      C[o] -= s0;
      C[o + ldc] -= s1;
      C[o + 2 * ldc] -= s2;
      C[o + 3 * ldc] -= s3;
    }
  }
  for (; i < m; i++) {
    const a0 = a.offset + i * lda + k0;
    const c0 = c.offset + i * ldc;
    for (let j = 0; j < n; j++) {
      const b0 = b.offset + j * ldb + k0;
      let s = 0;
      for (let k = 0; k < kl; k++) s += A[a0 + k] * B[b0 + k];
      C[c0 + j] -= s;
    }
  }
}
