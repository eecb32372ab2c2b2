/**
 * The static configuration of one matmul pipeline, in a file of its own so that the generator
 * (`matmul.ts`) and its emitters (`matmul_emit.ts`, `matmul_shared.ts`) share it without
 * importing each other in a circle.
 * @module
 */

/** Static configuration of one matmul pipeline. Sizes never appear here. */
export interface MatmulConfig {
  /** A is stored transposed, as `[K, M]` (TN/TT variants). */
  transA: boolean;
  /** B is stored transposed, as `[N, K]` (NT/TT variants). */
  transB: boolean;
  /** Output rows per invocation (register tile height), 1..32. */
  tm: number;
  /** Output columns per invocation (register tile width), a multiple of 4 up to 32. */
  tn: number;
  /**
   * Invocations per workgroup along M. The workgroup is 1-D (`wgM * wgN` invocations,
   * at most 256); invocation `li` covers tile row `li / wgN`, tile column `li % wgN`.
   */
  wgM: number;
  /** Invocations per workgroup along N. */
  wgN: number;
  /**
   * Load A as `vec4<f32>` along its contiguous axis. Requires that axis (K, or M when
   * `transA`) and the batch stride of A to be multiples of 4, and `tm % 4 == 0` when
   * `transA`.
   */
  vecA: boolean;
  /**
   * Load B as `vec4<f32>` along its contiguous axis. Requires that axis (N, or K when
   * `transB`) and the batch stride of B to be multiples of 4.
   */
  vecB: boolean;
  /** Store C (and read the bias) as `vec4<f32>`. Requires N % 4 == 0 and strideC % 4 == 0. */
  vecC: boolean;
  /** Multiply the product by the uniform `alpha` before the bias is added. */
  alpha: boolean;
  /** Add a bias vector of length N (binding 3; C then moves to binding 4). */
  bias: boolean;
  /**
   * Add the product into C instead of overwriting it (`C += ...`, after alpha and bias): a
   * gradient accumulating into its destination without a separate launch.
   */
  accumulate?: boolean;
  /**
   * Apply GPT-2's tanh-approximated GELU after the bias: C receives `gelu(v)`. With
   * `keepPre`, the pre-activation `v` is also written to a second output bound after C (the
   * backward needs it).
   */
  gelu?: boolean;
  /** With `gelu`: also store the pre-activation (binding after C). */
  keepPre?: boolean;
  /**
   * k values per unrolled step of the direct-mode loop: 4 (fastest) or 1 (about 4x less
   * WGSL, so much faster pipeline compiles for big tiles). Ignored in shared mode.
   */
  ku: 1 | 4;
  /**
   * K-tile depth staged through workgroup memory; 0 reads A and B straight from
   * storage buffers (no workgroup memory, no barriers). A multiple of 4 otherwise.
   */
  tk: number;
  /**
   * With `tk > 0`: two workgroup-memory buffers per operand, so the next K tile's global
   * loads are issued before the current tile's FMAs and stored after them, with one barrier
   * per tile instead of two (the usual hardware-GPU pipeline; twice the workgroup memory).
   */
  doubleBuffer?: boolean;
}
