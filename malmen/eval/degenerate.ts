/**
 * Edit requests that cannot be measured: an empty target (zsRE's `alt: ""`), a target equal to
 * the current answer (the edit would "succeed" doing nothing), and conflicting targets for the
 * same subject and prompt (at most one can succeed). They are rejected by index, or kept and
 * flagged, and then left out of the success rates.
 * @module
 */
import type { EditRecord } from "../data/edit_record.ts";

/** Why a request cannot be measured. */
export type DegenerateKind = "empty-target" | "target-is-answer" | "conflict";

/** One request that cannot be measured. */
export interface DegenerateRequest {
  /** Its index in the records. */
  index: number;
  /** Why. */
  kind: DegenerateKind;
  /** In words, e.g. `target "Paris" conflicts with record 7's "Rome" for the same subject and prompt`. */
  detail: string;
}

/**
 * Finds the requests that cannot be measured; each index appears once (with its first reason in
 * the order empty target, target equal to the answer, conflict).
 * @param records The edit records.
 * @returns The degenerate ones, by index.
 */
export function findDegenerate(records: readonly EditRecord[]): DegenerateRequest[] {
  const found = new Map<number, DegenerateRequest>();
  const groups = new Map<string, number[]>();
  records.forEach((r, index) => {
    const target = r.target_new.trim();
    if (target === "") {
      found.set(index, { index, kind: "empty-target", detail: "the target is empty" });
    } else if (target === r.ground_truth.trim()) {
      found.set(index, {
        index,
        kind: "target-is-answer",
        detail: `the target ${JSON.stringify(target)} is already the answer`,
      });
    }
    const key = `${r.subject}\u0000${r.prompt}`;
    groups.set(key, [...(groups.get(key) ?? []), index]);
  });
  for (const members of groups.values()) {
    const targets = new Set(members.map((i) => records[i].target_new.trim()));
    if (targets.size < 2) continue;
    for (const index of members) {
      if (found.has(index)) continue;
      const other = members.find((j) =>
        records[j].target_new.trim() !== records[index].target_new.trim()
      )!;
      found.set(index, {
        index,
        kind: "conflict",
        detail: `the target ${JSON.stringify(records[index].target_new.trim())} conflicts with ` +
          `record ${other}'s ${
            JSON.stringify(records[other].target_new.trim())
          } for the same subject and prompt`,
      });
    }
  }
  return [...found.values()].sort((a, b) => a.index - b.index);
}

/**
 * The error that rejects degenerate requests, listing them by index (the first ten).
 * @param source The records' file, for the message.
 * @param found What {@linkcode findDegenerate} returned (non-empty).
 */
export function degenerateError(source: string, found: readonly DegenerateRequest[]): RangeError {
  const shown = found.slice(0, 10).map((d) => `record ${d.index}: ${d.detail}`);
  const more = found.length > 10 ? `; and ${found.length - 10} more` : "";
  return new RangeError(
    `${source}: ${found.length} edit request${found.length === 1 ? "" : "s"} cannot be measured (${
      shown.join("; ")
    }${more}). Remove them, or pass --allow-conflicts ` +
      `to keep them flagged in the report and left out of the success rates`,
  );
}
