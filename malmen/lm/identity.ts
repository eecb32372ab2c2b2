/**
 * Provenance: what an LM is, and what a run was trained on, as hashes.
 *
 * An LM's identity is a SHA-256 over its configuration, its tokenizer and its weights (rounded to
 * float32, the stored precision), so two models of the same shapes but other weights differ. An
 * LM run, a Hugging Face folder or a model trained in memory all get theirs from
 * {@linkcode lmIdentity}. Editors, journal entries and edited models record the identity of the
 * LM they were made for; {@linkcode checkMadeFor} refuses to use them with another. A data hash
 * ({@linkcode dataHash}) is the SHA-256 of a value's canonical JSON: runs record the one of their
 * training data, so a run is never reused for other data.
 * @module
 */
import type { GPTConfig } from "../../engine/models/gpt/config.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import type { Tokenizer } from "../../engine/models/tokenizer/tokenizer.ts";

/** `sha256:` and 64 hex digits. */
export type Hash = string;

const encoder = new TextEncoder();

/**
 * Hex SHA-256 of bytes or text, prefixed `sha256:`.
 * @param data What to hash.
 */
export async function sha256(data: Uint8Array | string): Promise<Hash> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return `sha256:${
    Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}

/**
 * JSON with object keys sorted at every level, so equal values give equal text.
 * @param value A JSON value.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v) =>
      v !== null && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]))
        : v,
  );
}

/**
 * The hash of a value's canonical JSON: a run's training data (its corpus, its edit records).
 * @param value Any JSON value.
 */
export function dataHash(value: unknown): Promise<Hash> {
  return sha256(canonicalJson(value));
}

/** Weights as the identity sees them: name → shape and values. */
export type IdentityWeights = Iterable<
  readonly [string, { shape: readonly number[]; data: ArrayLike<number> }]
>;

/**
 * An LM's identity: SHA-256 over its configuration, its tokenizer and each weight tensor (name,
 * shape, float32 values), tensors in name order.
 * @param config The model configuration.
 * @param tokenizer The tokenizer (its JSON form is hashed).
 * @param weights Every parameter (the model's state dict names).
 */
export async function lmIdentity(
  config: GPTConfig,
  tokenizer: Tokenizer,
  weights: IdentityWeights,
): Promise<Hash> {
  const parts = [...weights].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const lines = [canonicalJson(config), await dataHash(tokenizer.toJSON())];
  for (const [name, t] of parts) {
    const f32 = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
    const bytes = new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength);
    lines.push(`${name} ${JSON.stringify(t.shape)} ${await sha256(bytes)}`);
  }
  return sha256(lines.join("\n"));
}

const identities = new WeakMap<GPT, Hash>();

/**
 * Computes a model's identity from its current weights (one batched readback) and remembers it
 * for {@linkcode identityOf}.
 * @param tokenizer Its tokenizer.
 */
export async function identify(model: GPT, tokenizer: Tokenizer): Promise<Hash> {
  const entries = [...model.stateDict()];
  const values = await Promise.all(entries.map(([, t]) => t.toArray()));
  const id = await lmIdentity(
    model.config,
    tokenizer,
    entries.map(([name, t], i) => [name, { shape: t.shape, data: values[i] }] as const),
  );
  identities.set(model, id);
  return id;
}

/**
 * Remembers an identity computed elsewhere (e.g. from the checkpoint file the model was loaded
 * from), or forgets it (null) once the weights change.
 * @param id The identity, or null.
 */
export function setIdentity(model: GPT, id: Hash | null): void {
  if (id === null) identities.delete(model);
  else identities.set(model, id);
}

/**
 * The identity of a model loaded or trained by this package, or null when unknown (a model
 * built by hand, or whose weights changed since).
 */
export function identityOf(model: GPT): Hash | null {
  return identities.get(model) ?? null;
}

/**
 * A hash cut to 12 hex digits, for messages.
 * @param hash A {@linkcode Hash}.
 */
export function shortHash(hash: Hash): string {
  return hash.replace(/^sha256:/, "").slice(0, 12);
}

/** Something made for one LM is used with another. */
export class ProvenanceError extends Error {
  /**
   * Creates the error.
   * @param message Names both identities and the way out.
   */
  constructor(message: string) {
    super(message);
    this.name = "ProvenanceError";
  }
}

/** Options of whatever checks what it is used with was made for this LM (`checkMadeFor`). */
export interface ProvenanceOptions {
  /** Use it with another LM anyway (the CLIs' `--force`). */
  force?: boolean;
}

/**
 * Checks that something (an editor, a journal entry) was made for this LM. Unknown identities
 * (either side) pass: they cannot be compared.
 * @param what What is checked, for the message (e.g. `The editor in "runs/malmen"`).
 * @param madeFor The identity it records, if any.
 * @param model The LM it is about to be used with.
 * @param options `force` to accept another LM.
 * @returns True when the LMs differ and `force` let it pass.
 * @throws {ProvenanceError} When both are known and differ, without `force`.
 */
export function checkMadeFor(
  what: string,
  madeFor: Hash | null | undefined,
  model: GPT,
  options: ProvenanceOptions = {},
): boolean {
  const current = identityOf(model);
  if (!madeFor || current === null || madeFor === current) return false;
  if (options.force) return true;
  throw new ProvenanceError(
    `${what} was made for the LM ${shortHash(madeFor)}, but the LM in use is ${
      shortHash(current)
    }: use it with the LM it was made for, or pass --force (force: true) to use it anyway`,
  );
}
