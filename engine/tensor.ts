/**
 * The Tensor: a shape/strides/offset view of reference-counted storage on one backend, plus its
 * autograd state.
 * @module
 */
import type { Backend, GpuBackend } from "./backend.ts";
import type { GpuBinding } from "./launch.ts";
import { contiguousStrides, fmtShape, type Shape, sizeOf } from "./shape.ts";
import { track } from "./scope.ts";

/** Element types. Floats are float32 on the GPU and float64 on the CPU reference. */
export type DType = "float32" | "int32";

/** What {@linkcode Tensor.toArray} returns: float32 (GPU), float64 (CPU) or int32 values. */
export type TensorArray = Float32Array | Float64Array | Int32Array;

/**
 * What a backward rule returns for an input whose gradient it added into that input's sink
 * (see {@linkcode GradNode}) instead of returning a new tensor.
 */
export const ADDED: unique symbol = Symbol("gradient added into its sink");

/** One entry of a backward rule's result: a gradient, none, or {@linkcode ADDED}. */
export type GradResult = Tensor | null | typeof ADDED;

/** How a tensor's gradient is produced from its output gradient (one tape entry). */
export interface GradNode {
  /** Op name, for error messages. */
  readonly op: string;
  /** The op's tensor inputs. */
  readonly inputs: readonly Tensor[];
  /**
   * Maps the output gradient to one gradient per input (`null` where none flows). `sinks[k]`,
   * when not null, is a contiguous float tensor of input k's shape that already holds part of
   * its gradient (a leaf's `.grad`, or a sum still being collected): the rule may add input k's
   * gradient into it in place and return {@linkcode ADDED} for k, which saves the separate
   * accumulation launch. A rule must add, never overwrite, and must not keep or dispose a sink.
   */
  readonly backward: (grad: Tensor, sinks: readonly (Tensor | null)[]) => readonly GradResult[];
}

let liveTensors = 0;

/**
 * The work behind two Tensor methods that must construct tensors: the reverse walk of
 * {@linkcode Tensor.backward} (`engine/autograd.ts`) and the contiguous copy a strided view needs
 * before {@linkcode Tensor.toArray} (`engine/ops/copy.ts`). Those modules import this one, so
 * importing them back would be a cycle; each installs its function here when it is loaded.
 */
interface LateBound {
  backward: ((root: Tensor, upstream?: Tensor, options?: { retainGraph?: boolean }) => void) | null;
  materialize: ((t: Tensor) => Tensor) | null;
}

const late: LateBound = { backward: null, materialize: null };

/**
 * Installs the reverse walk or the contiguous copy (see {@linkcode LateBound}); called once by
 * the module that defines each.
 * @internal
 */
export function _installTensorMethods(methods: Partial<LateBound>): void {
  Object.assign(late, methods);
}

/** Number of tensors created and not yet disposed (for leak tests). */
export function liveTensorCount(): number {
  return liveTensors;
}

/** Reference-counted memory shared by a tensor and its views. */
export class Storage {
  /** The backend that owns the memory. */
  readonly backend: Backend;
  /** Element type. */
  readonly dtype: DType;
  /** Number of elements. */
  readonly length: number;
  /** GPU buffer (WebGPU backend). */
  readonly buffer: GPUBuffer | null;
  /** Values (CPU backend). */
  readonly array: Float64Array | Int32Array | null;
  #refs = 1;

  /**
   * Wraps memory.
   * @param buffer GPU buffer, or null.
   * @param array CPU values, or null.
   */
  constructor(
    backend: Backend,
    dtype: DType,
    length: number,
    buffer: GPUBuffer | null,
    array: Float64Array | Int32Array | null,
  ) {
    this.backend = backend;
    this.dtype = dtype;
    this.length = length;
    this.buffer = buffer;
    this.array = array;
  }

  /** Adds a reference (a new view). */
  retain(): void {
    this.#refs++;
  }

  /** Drops a reference; the memory returns to the pool at zero. */
  release(): void {
    if (--this.#refs === 0 && this.buffer !== null && this.backend.kind === "webgpu") {
      this.backend.dispatcher.pool.release(this.buffer);
    }
  }

  /** Number of views referencing this storage. */
  get refs(): number {
    return this.#refs;
  }

  /** Whether any view still references this storage. */
  get alive(): boolean {
    return this.#refs > 0;
  }
}

/**
 * An n-dimensional array view with tape autograd. Create tensors with `tensor()`, `zeros()` and
 * friends; run ops with the functions of `engine/ops`.
 */
export class Tensor {
  /** Dimensions. */
  readonly shape: Shape;
  /** Element strides per dimension. */
  readonly strides: Shape;
  /** Element offset into the storage. */
  readonly offset: number;
  /**
   * The reference-counted memory this view reads, shared with other views (for op code).
   * @internal
   */
  readonly storage: Storage;
  /** Whether gradients are accumulated for this tensor (leaves) or flow through it. */
  requiresGrad = false;
  /** Accumulated gradient of a leaf after `backward()`. */
  grad: Tensor | null = null;
  /**
   * The tape entry that produced this tensor, or null for leaves; cleared by `backward()`.
   * @internal
   */
  node: GradNode | null = null;
  /** Optional name (parameters), used in messages. */
  name = "";
  #disposed = false;

  /**
   * Makes a view. Prefer the creation functions; this is the low-level constructor.
   * @param storage Memory (its reference is taken over by this tensor).
   * @param strides Element strides (default contiguous).
   * @param offset Element offset (default 0).
   */
  constructor(storage: Storage, shape: Shape, strides?: Shape, offset = 0) {
    this.storage = storage;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze(strides ? [...strides] : contiguousStrides(shape));
    this.offset = offset;
    liveTensors++;
    track(this);
  }

  /** Element type. */
  get dtype(): DType {
    return this.storage.dtype;
  }

  /** The backend holding the storage. */
  get backend(): Backend {
    return this.storage.backend;
  }

  /** Number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }

  /** Number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }

  /** True once {@linkcode Tensor.dispose} ran. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** True when the view is row-major without gaps (any offset). */
  get isContiguous(): boolean {
    let s = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.strides[i] !== s) return false;
      s *= this.shape[i];
    }
    return true;
  }

  /**
   * Throws if the tensor was disposed.
   * @param op Name of the operation, for the message.
   */
  assertLive(op = "use"): void {
    if (this.#disposed) {
      throw new Error(
        `Cannot ${op} a disposed tensor${this.name ? ` "${this.name}"` : ""} of shape "${
          fmtShape(this.shape)
        }"`,
      );
    }
  }

  /** Releases this view's storage reference. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    liveTensors--;
    this.node = null;
    this.storage.release();
  }

  /**
   * The whole storage as a GPU binding (kernels add {@linkcode Tensor.offset} themselves), or
   * exactly the range `[offset, offset + size)` of a dense view (contiguous or a permutation of
   * contiguous, e.g. a transposed matrix; the caller guarantees density) at an aligned offset.
   * @param exact Bind exactly this tensor's range.
   * @internal
   */
  binding(exact = false): GpuBinding {
    const buffer = this.storage.buffer;
    if (buffer === null) throw new TypeError("Tensor has no GPU storage");
    if (!exact) return { buffer, offset: 0, size: Math.ceil((this.storage.length * 4) / 16) * 16 };
    const align = (this.backend as GpuBackend).storageAlign;
    if ((this.offset * 4) % align !== 0) {
      throw new RangeError(`Tensor "${fmtShape(this.shape)}" starts at an unaligned offset`);
    }
    return {
      buffer,
      offset: this.offset * 4,
      size: Math.min(Math.ceil((this.size * 4) / 16) * 16, buffer.size - this.offset * 4),
    };
  }

  /**
   * Reads the values back (row-major). On WebGPU all reads requested in the same tick share one
   * copy and one `mapAsync`.
   * @returns Float32 (GPU), float64 (CPU) or int32 values, in a fresh array.
   */
  async toArray(): Promise<TensorArray> {
    this.assertLive("read");
    const backend = this.backend;
    // A gapless view is read in place; any other goes through a contiguous copy first. The GPU
    // also needs the copy when the view starts at an offset it cannot bind.
    const direct = this.isContiguous &&
      (backend.kind === "cpu" || (this.offset * 4) % backend.storageAlign === 0);
    if (!direct && late.materialize === null) {
      throw new Error(
        `Reading a strided view of shape "${fmtShape(this.shape)}" needs engine/ops/copy.ts loaded`,
      );
    }
    const c = direct ? this : late.materialize!(this);
    try {
      if (backend.kind === "cpu") return c.storage.array!.slice(c.offset, c.offset + c.size);
      const bytes = await backend.dispatcher.read({
        buffer: c.storage.buffer!,
        offset: c.offset * 4,
        size: c.size * 4,
      });
      return this.dtype === "int32" ? new Int32Array(bytes) : new Float32Array(bytes);
    } finally {
      if (c !== this) c.dispose();
    }
  }

  /** Reads a one-element tensor as a number. */
  async item(): Promise<number> {
    if (this.size !== 1) {
      throw new RangeError(`item() needs one element, got "${fmtShape(this.shape)}"`);
    }
    return (await this.toArray())[0];
  }

  /**
   * Back-propagates from this tensor: a scalar uses 1 as upstream gradient; any other tensor
   * needs `upstream` of the same shape. Leaf gradients accumulate into `.grad`. The graph is
   * freed afterwards (a second call throws) unless `options.retainGraph` is set.
   * @param upstream Gradient of some loss w.r.t. this tensor.
   */
  backward(upstream?: Tensor, options?: { retainGraph?: boolean }): void {
    if (late.backward === null) throw new Error("backward() needs engine/autograd.ts loaded");
    late.backward(this, upstream, options);
  }

  /** Short description for logs. */
  toString(): string {
    return `Tensor(${this.dtype}, ${fmtShape(this.shape)}, ${this.backend.kind})`;
  }
}
