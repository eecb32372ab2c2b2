/**
 * `Module`: a tree of named parameters and sub-modules with hierarchical names
 * (`h.0.mlp.c_fc.weight`), seeded initialisation, state dicts, and adoption into a
 * {@linkcode ParamArena} for training.
 * @module
 */
import type { Backend } from "../backend.ts";
import { getBackend } from "../backend.ts";
import { fmtShape, type Shape, sizeOf } from "../shape.ts";
import { keep } from "../scope.ts";
import { Tensor } from "../tensor.ts";
import { upload } from "../alloc.ts";
import { copyInto } from "../ops/copy.ts";
import { type ArenaOptions, ParamArena } from "./arena.ts";
import { type HostTensor, writeHost } from "./host_io.ts";
import { initValues, nameSeed, type ParamInit } from "./init.ts";

/** Where and how a module creates its parameters. */
export interface ParamOptions {
  /** Backend of the parameters (default: the current backend). */
  backend?: Backend;
  /** Seed mixed with each parameter's local name (default 0). */
  seed?: number;
}

/** Options of {@linkcode Module.loadStateDict}. */
export interface LoadOptions {
  /** Reject missing and unexpected names (default true). */
  strict?: boolean;
}

/** What {@linkcode Module.loadStateDict} did. */
export interface LoadReport {
  /** Names of the module absent from the source (only when not strict). */
  missing: string[];
  /** Names of the source the module does not have (only when not strict). */
  unexpected: string[];
}

const NAME = /^[A-Za-z0-9_]+$/;

/**
 * Base class of layers and models. Subclasses create parameters with
 * {@linkcode Module.addParameter} and children with {@linkcode Module.addModule}, and read them
 * back through {@linkcode Module.param} (parameters may be swapped for arena views, so never
 * cache them in fields).
 * @example A two-layer perceptron
 * ```ts ignore
 * class Mlp extends Module {
 *   fc1 = this.addModule("fc1", new Linear(4, 8, { seed: 1 }));
 *   fc2 = this.addModule("fc2", new Linear(8, 2, { seed: 2 }));
 *   forward(x: Tensor): Tensor { return this.fc2.forward(relu(this.fc1.forward(x))); }
 * }
 * ```
 */
export class Module {
  readonly #params = new Map<string, Tensor>();
  readonly #inits = new Map<string, ParamInit>();
  readonly #children = new Map<string, Module>();
  // Parameter and child names in registration order: the order of `parameters()`.
  readonly #order: string[] = [];
  #arena: ParamArena | null = null;

  /**
   * Creates, initialises and registers a parameter (a gradient-requiring leaf).
   * @param name Local name (letters, digits, `_`).
   * @param init Initialiser, reused by {@linkcode Module.initialize}.
   */
  protected addParameter(
    name: string,
    shape: Shape,
    init: ParamInit,
    options: ParamOptions = {},
  ): Tensor {
    this.#checkName(name);
    const values = initValues(init, sizeOf(shape), nameSeed(options.seed ?? 0, name));
    const t = keep(upload(values, shape, "float32", options.backend ?? getBackend()));
    t.requiresGrad = true;
    t.name = name;
    this.#params.set(name, t);
    this.#inits.set(name, init);
    return t;
  }

  /**
   * Registers an existing tensor as a parameter (e.g. a tied weight owned elsewhere).
   * Tied entries appear once in {@linkcode Module.parameters}, under their first name.
   */
  protected registerParameter(name: string, t: Tensor): Tensor {
    this.#checkName(name);
    this.#params.set(name, t);
    return t;
  }

  /**
   * Registers a child module.
   * @param name Local name (e.g. `mlp`, or `0` in a list).
   * @returns `m`.
   */
  protected addModule<M extends Module>(name: string, m: M): M {
    this.#checkName(name);
    this.#children.set(name, m);
    return m;
  }

  /** A local parameter by name (the current tensor, which may be an arena view). */
  protected param(name: string): Tensor {
    const t = this.#params.get(name);
    if (t === undefined) {
      throw new RangeError(`${this.constructor.name} has no parameter "${name}"`);
    }
    return t;
  }

  /**
   * Whether a local parameter exists.
   * @returns True when registered.
   */
  protected hasParam(name: string): boolean {
    return this.#params.has(name);
  }

  /**
   * Every parameter of the tree by hierarchical name, depth-first in registration order
   * (parameters and children interleaved as registered); a
   * tensor registered under several names appears once.
   * @returns Name → tensor (the live parameters, not copies).
   */
  parameters(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    const seen = new Set<Tensor>();
    this.#walk("", (name, t) => {
      if (seen.has(t)) return;
      seen.add(t);
      out.set(name, t);
    });
    return out;
  }

  /** Every module of the tree by hierarchical name (the root is `""`). */
  modules(): Map<string, Module> {
    const out = new Map<string, Module>();
    const visit = (prefix: string, m: Module): void => {
      out.set(prefix, m);
      for (const k of m.#order) {
        const c = m.#children.get(k);
        if (c !== undefined) visit(prefix ? `${prefix}.${k}` : k, c);
      }
    };
    visit("", this);
    return out;
  }

  /**
   * A parameter by hierarchical name.
   * @param path e.g. `h.0.mlp.c_fc.weight`.
   */
  getParameter(path: string): Tensor {
    const { owner, local } = this.#resolve(path);
    const t = owner.#params.get(local);
    if (t === undefined) throw new RangeError(`No parameter "${path}"`);
    return t;
  }

  /** Number of parameter elements (tied tensors counted once). */
  numParameters(): number {
    let n = 0;
    for (const t of this.parameters().values()) n += t.size;
    return n;
  }

  /**
   * Re-draws every parameter from `seed` mixed with its full name, so values depend only on
   * (seed, name, initialiser), not on construction order. Writes in place (arena views stay).
   * @param override Replaces the initialiser of some parameters (e.g. GPT-2's scaled
   *   `c_proj` init); return the given one to keep it.
   */
  initialize(
    seed: number,
    override?: (name: string, init: ParamInit, shape: Shape) => ParamInit,
  ): void {
    const seen = new Set<Tensor>();
    this.#walk("", (name, t, owner, local) => {
      const base = owner.#inits.get(local);
      if (base === undefined || seen.has(t)) return;
      seen.add(t);
      const init = override ? override(name, base, t.shape) : base;
      writeHost(t, initValues(init, t.size, nameSeed(seed, name)));
    });
  }

  /**
   * The state dict: the live parameter tensors by hierarchical name (not copies: do not
   * dispose them). Tied tensors appear once.
   */
  stateDict(): Map<string, Tensor> {
    return this.parameters();
  }

  /**
   * Copies values into the parameters, in place (arena views stay valid). Every name and shape
   * is checked before anything is written.
   * @param state Name → tensor (same backend) or host values (e.g. decoded safetensors).
   * @param options `strict` (default true) rejects missing and unexpected names.
   * @returns Missing and unexpected names (empty when strict).
   */
  loadStateDict(
    state: ReadonlyMap<string, Tensor | HostTensor>,
    options: LoadOptions = {},
  ): LoadReport {
    const strict = options.strict ?? true;
    const params = this.parameters();
    const missing = [...params.keys()].filter((k) => !state.has(k));
    const unexpected = [...state.keys()].filter((k) => !params.has(k) && !this.#isAlias(k));
    if (strict && (missing.length > 0 || unexpected.length > 0)) {
      const parts: string[] = [];
      if (missing.length > 0) parts.push(`missing ${missing.map((k) => `"${k}"`).join(", ")}`);
      if (unexpected.length > 0) {
        parts.push(`unexpected ${unexpected.map((k) => `"${k}"`).join(", ")}`);
      }
      throw new RangeError(`Cannot load the state dict: ${parts.join("; ")}`);
    }
    for (const [name, dst] of params) {
      const src = state.get(name);
      if (src === undefined) continue;
      if (fmtShape(src.shape) !== fmtShape(dst.shape)) {
        throw new RangeError(
          `Cannot load "${name}": the model has shape "${fmtShape(dst.shape)}", the state dict "${
            fmtShape(src.shape)
          }"`,
        );
      }
      if (src instanceof Tensor) {
        src.assertLive("load");
        if (src.backend !== dst.backend) {
          throw new TypeError(
            `Cannot load "${name}": the tensor is on ${src.backend.kind}, the model on ${dst.backend.kind}`,
          );
        }
        if (src.dtype !== "float32") {
          throw new TypeError(`Cannot load "${name}": ${src.dtype} is not float`);
        }
      } else if (src.data.length !== dst.size) {
        throw new RangeError(
          `Cannot load "${name}": ${src.data.length} values for ${dst.size} elements`,
        );
      }
    }
    for (const [name, dst] of params) {
      const src = state.get(name);
      if (src === undefined) continue;
      if (src instanceof Tensor) copyInto(dst, src);
      else writeHost(dst, src.data);
    }
    return { missing, unexpected };
  }

  /**
   * The arena this module's trainable parameters live in, creating it on first use: the
   * parameters' values move into aligned views of the arena, the module is re-pointed at them
   * and the old tensors are disposed. Frozen parameters (`requiresGrad = false`) stay outside.
   * @param options Backend and segment size (first call only).
   * @returns The arena (owned by this module; disposed with it).
   */
  arena(options: ArenaOptions = {}): ParamArena {
    if (this.#arena !== null && !this.#arena.disposed) return this.#arena;
    const trainable = new Map([...this.parameters()].filter(([, t]) => t.requiresGrad));
    const arena = ParamArena.fromTensors(trainable, options);
    for (const [name, old] of trainable) {
      this.#replace(old, arena.param(name));
      old.dispose();
    }
    this.#arena = arena;
    return arena;
  }

  /** Disposes every parameter of the tree (and the arena, if one was created). */
  dispose(): void {
    this.#walk("", (_name, t) => t.dispose());
    this.#arena?.dispose();
  }

  // Replaces every registration of `old` in the tree (tied weights included).
  #replace(old: Tensor, next: Tensor): void {
    for (const [k, t] of this.#params) if (t === old) this.#params.set(k, next);
    for (const c of this.#children.values()) c.#replace(old, next);
  }

  // A second name of a tied tensor is not "unexpected".
  #isAlias(path: string): boolean {
    try {
      this.getParameter(path);
      return true;
    } catch {
      return false;
    }
  }

  #walk(prefix: string, fn: (name: string, t: Tensor, owner: Module, local: string) => void): void {
    for (const k of this.#order) {
      const name = prefix ? `${prefix}.${k}` : k;
      const t = this.#params.get(k);
      if (t !== undefined) fn(name, t, this, k);
      else this.#children.get(k)!.#walk(name, fn);
    }
  }

  #resolve(path: string): { owner: Module; local: string } {
    const parts = path.split(".");
    const owner = parts.slice(0, -1).reduce<Module>((m, p) => {
      const c = m.#children.get(p);
      if (c === undefined) throw new RangeError(`No parameter "${path}": no module "${p}"`);
      return c;
    }, this);
    return { owner, local: parts[parts.length - 1] };
  }

  #checkName(name: string): void {
    if (!NAME.test(name)) {
      throw new TypeError(`Invalid name "${name}": use letters, digits and "_"`);
    }
    if (this.#params.has(name) || this.#children.has(name)) {
      throw new RangeError(`${this.constructor.name} already has a member "${name}"`);
    }
    this.#order.push(name);
  }
}

/** An indexed list of sub-modules named `0`, `1`, … (GPT-2's `h.0`, `h.1`, …). */
export class ModuleList<M extends Module = Module> extends Module {
  readonly #items: M[] = [];

  /** Creates the list. */
  constructor(items: readonly M[] = []) {
    super();
    for (const m of items) this.push(m);
  }

  /**
   * Appends a module named by its index.
   * @returns `m`.
   */
  push(m: M): M {
    this.#items.push(this.addModule(String(this.#items.length), m));
    return m;
  }

  /** The module at `i`. */
  at(i: number): M {
    const m = this.#items[i];
    if (m === undefined) {
      throw new RangeError(`Index ${i} is out of range for ${this.#items.length} modules`);
    }
    return m;
  }

  /** Number of modules. */
  get length(): number {
    return this.#items.length;
  }

  /** Iterates in order. */
  [Symbol.iterator](): Iterator<M> {
    return this.#items[Symbol.iterator]();
  }
}
