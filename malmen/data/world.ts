/**
 * The seeded synthetic knowledge world: the project's built-in data. A small language model is
 * trained on the true facts of every subject (training templates only); the editor meta-trains
 * on `train`, validates on `val` and is scored on `edit`, three disjoint sets of subjects.
 *
 * Default world (seed 1): 400 subjects (280 people, 16 countries, 64 cities, 40 companies),
 * 11 relations, 2,096 facts, 6,288 training texts; edit records train 1,048 / val 210 /
 * edit 674, plus 164 never-edited locality facts. Run `describeWorld` for the full statistics.
 * @module
 */

import type { EditRecord } from "./edit_record.ts";
import { createRng, type Rng } from "./prng.ts";
import {
  type EntityKind,
  type Relation,
  relationById,
  RELATIONS,
  renderTemplate,
} from "./relations.ts";
import { SPLIT_NAMES, splitCounts, type SplitFractions } from "./split_sizes.ts";
import { type Fact, generateFacts, type WorldSizes } from "./world_facts.ts";

/**
 * Options for {@link generateWorld}; every field is optional.
 * @example
 * ```ts
 * import { generateWorld, type WorldOptions } from "./world.ts";
 * const options: WorldOptions = { seed: 3, people: 40 };
 * console.log(generateWorld(options).facts.length);
 * ```
 */
export interface WorldOptions extends Partial<WorldSizes> {
  /** PRNG seed, an integer in [0, 2^32); default 1. */
  seed?: number;
  /** Fractions of each entity kind's subjects per split; default 0.5/0.1/0.32/0.08. */
  split?: SplitFractions;
}

/**
 * {@link WorldOptions} with every default filled in.
 * @example
 * ```ts
 * import { generateWorld, type ResolvedWorldOptions } from "./world.ts";
 * const used: ResolvedWorldOptions = generateWorld({ seed: 3 }).options;
 * console.log(used.people); // 280
 * ```
 */
export interface ResolvedWorldOptions extends WorldSizes {
  /** PRNG seed. */
  seed: number;
  /** Split fractions. */
  split: SplitFractions;
}

/**
 * The defaults: about 2,100 facts, sized for a tiny GPT to memorise on a CPU in minutes.
 * @example
 * ```ts
 * import { DEFAULT_WORLD_OPTIONS } from "./world.ts";
 * console.log(DEFAULT_WORLD_OPTIONS.people); // 280
 * ```
 */
export const DEFAULT_WORLD_OPTIONS: Readonly<ResolvedWorldOptions> = Object.freeze({
  seed: 1,
  people: 280,
  countries: 16,
  citiesPerCountry: 4,
  companies: 40,
  instruments: 14,
  sports: 12,
  colors: 12,
  split: Object.freeze({ train: 0.5, val: 0.1, edit: 0.32, locality: 0.08 }),
});

/**
 * Subject names per split (disjoint).
 * @example
 * ```ts
 * import { generateWorld, type WorldSubjects } from "./world.ts";
 * const subjects: WorldSubjects = generateWorld().subjects;
 * console.log(subjects.edit.length);
 * ```
 */
export interface WorldSubjects {
  /** Subjects of `train` records. */
  train: string[];
  /** Subjects of `val` records. */
  val: string[];
  /** Subjects of `edit` records. */
  edit: string[];
  /** Subjects whose facts are only ever locality probes. */
  locality: string[];
}

/**
 * A generated world.
 * @example
 * ```ts
 * import { generateWorld, type World } from "./world.ts";
 * const world: World = generateWorld();
 * console.log(world.trainingTexts.length, world.edit[0].rephrase_prompt);
 * ```
 */
export interface World {
  /** The options it was generated from, every default filled in. */
  options: Required<WorldOptions>;
  /** The relations (same as `RELATIONS`). */
  relations: readonly Relation[];
  /** Every entity name by kind; each relation's valid objects are `entities[objectKind]`. */
  entities: Record<EntityKind, string[]>;
  /** Every true fact, `facts[i].id === i`. */
  facts: Fact[];
  /**
   * Subject names per split, disjoint: those of the `train`, `val` and `edit` records, and
   * `locality`, the subjects whose facts are only ever locality probes.
   */
  subjects: Record<keyof SplitFractions, string[]>;
  /** Edit records for editor meta-training, one per fact of a train subject, shuffled. */
  train: EditRecord[];
  /** Edit records for editor validation. */
  val: EditRecord[];
  /** Edit records for evaluation. */
  edit: EditRecord[];
  /** Facts of the locality subjects: the pool every record's locality probe is drawn from. */
  locality: Fact[];
  /**
   * What the LM is trained on: `prompt + " " + answer` for every fact and every training
   * template, fact by fact. Held-out templates never occur here.
   */
  trainingTexts: string[];
}

/**
 * Generates the synthetic world. Each fact of a train/val/edit subject yields one record:
 * `prompt` from a random training template, `rephrase_prompt` from a random held-out template,
 * `target_new` a random other entity of the relation's object kind, and a locality probe that
 * is a training-template prompt of a same-relation fact of a locality subject (a fact the LM
 * was trained on and that no split ever edits, so edits in one batch never collide with it).
 * The same options always give a byte-identical world.
 * @param options Seed, sizes and split fractions (defaults: `DEFAULT_WORLD_OPTIONS`).
 * @throws {RangeError} If a size or fraction is invalid.
 * @example
 * ```ts
 * import { generateWorld } from "./world.ts";
 * const world = generateWorld({ seed: 7 });
 * console.log(world.edit.length >= 600, world.trainingTexts[0]);
 * ```
 */
export function generateWorld(options: WorldOptions = {}): World {
  const resolved = resolveOptions(options);
  const { entities, facts } = generateFacts(createRng(resolved.seed), resolved);
  // Separate streams: changing split fractions must not rename the entities.
  const splitRng = createRng((resolved.seed ^ 0x9e3779b9) >>> 0);
  const recordRng = createRng((resolved.seed ^ 0x85ebca6b) >>> 0);

  const subjects: WorldSubjects = { train: [], val: [], edit: [], locality: [] };
  for (const kind of ["country", "city", "company", "person"] as const) {
    const pool = splitRng.shuffle([...entities[kind]]);
    const counts = splitCounts(pool.length, resolved.split, kind);
    let at = 0;
    for (const s of SPLIT_NAMES) {
      subjects[s].push(...pool.slice(at, at + counts[s]));
      at += counts[s];
    }
  }
  const splitOf = new Map<string, keyof SplitFractions>();
  for (const s of SPLIT_NAMES) for (const subject of subjects[s]) splitOf.set(subject, s);

  const locality = facts.filter((f) => splitOf.get(f.subject) === "locality");
  const localityByRelation = new Map<string, Fact[]>();
  for (const f of locality) {
    const list = localityByRelation.get(f.relation) ?? [];
    list.push(f);
    localityByRelation.set(f.relation, list);
  }

  const records: Record<"train" | "val" | "edit", EditRecord[]> = { train: [], val: [], edit: [] };
  for (const fact of facts) {
    const split = splitOf.get(fact.subject)!;
    if (split === "locality") continue;
    const relation = relationById(fact.relation);
    const probe = recordRng.pick(localityByRelation.get(fact.relation)!);
    records[split].push(
      makeRecord(fact, relation, entities[relation.objectKind], probe, recordRng),
    );
  }
  for (const s of ["train", "val", "edit"] as const) recordRng.shuffle(records[s]);

  const trainingTexts: string[] = [];
  for (const fact of facts) {
    for (const template of relationById(fact.relation).trainTemplates) {
      trainingTexts.push(`${renderTemplate(template, fact.subject)} ${fact.object}`);
    }
  }
  return {
    options: resolved,
    relations: RELATIONS,
    entities,
    facts,
    subjects,
    train: records.train,
    val: records.val,
    edit: records.edit,
    locality,
    trainingTexts,
  };
}

/**
 * Redraws a split's records: the same facts (subjects), each with a new edit template,
 * paraphrase template, `target_new` and locality probe, in a new order. Meta-training can use a
 * fresh draw per epoch so that a small training split does not fix the edits it learns from.
 * @param world A generated world.
 * @param split Which records.
 * @param seed Seed of the draw (the same seed gives the same records).
 * @returns As many records as `world[split]`.
 * @example
 * ```ts
 * import { generateWorld, resampleRecords } from "./world.ts";
 * const world = generateWorld();
 * console.log(resampleRecords(world, "train", 1).length === world.train.length);
 * ```
 */
export function resampleRecords(
  world: World,
  split: "train" | "val" | "edit",
  seed: number,
): EditRecord[] {
  const rng = createRng((seed * 2654435761) >>> 0);
  const localityByRelation = new Map<string, Fact[]>();
  for (const f of world.locality) {
    const list = localityByRelation.get(f.relation) ?? [];
    list.push(f);
    localityByRelation.set(f.relation, list);
  }
  const out = world[split].map((r) => {
    const fact = world.facts[r.case_id];
    const relation = relationById(fact.relation);
    const probe = rng.pick(localityByRelation.get(fact.relation)!);
    return makeRecord(fact, relation, world.entities[relation.objectKind], probe, rng);
  });
  return rng.shuffle(out);
}

function makeRecord(
  fact: Fact,
  relation: Relation,
  objects: readonly string[],
  probe: Fact,
  rng: Rng,
): EditRecord {
  const prompt = renderTemplate(rng.pick(relation.trainTemplates), fact.subject);
  const rephrase = renderTemplate(rng.pick(relation.heldOutTemplates), fact.subject);
  let target = rng.pick(objects);
  while (target === fact.object) target = rng.pick(objects);
  const probeTemplate = rng.pick(relationById(probe.relation).trainTemplates);
  return {
    case_id: fact.id,
    prompt,
    subject: fact.subject,
    ground_truth: fact.object,
    target_new: target,
    rephrase_prompt: rephrase,
    locality_prompt: renderTemplate(probeTemplate, probe.subject),
    locality_ground_truth: probe.object,
    relation: relation.id,
  };
}

function resolveOptions(options: WorldOptions): ResolvedWorldOptions {
  const d = DEFAULT_WORLD_OPTIONS;
  const resolved: ResolvedWorldOptions = {
    seed: options.seed ?? d.seed,
    people: options.people ?? d.people,
    countries: options.countries ?? d.countries,
    citiesPerCountry: options.citiesPerCountry ?? d.citiesPerCountry,
    companies: options.companies ?? d.companies,
    instruments: options.instruments ?? d.instruments,
    sports: options.sports ?? d.sports,
    colors: options.colors ?? d.colors,
    split: { ...(options.split ?? d.split) },
  };
  // Every object kind needs two entities so target_new can differ from the truth.
  const minimum: Record<keyof WorldSizes, number> = {
    people: 0,
    countries: 2,
    citiesPerCountry: 1,
    companies: 2,
    instruments: 2,
    sports: 2,
    colors: 2,
  };
  for (const key of Object.keys(minimum) as (keyof WorldSizes)[]) {
    const value = resolved[key];
    if (!Number.isInteger(value) || value < minimum[key]) {
      throw new RangeError(
        `World option "${key}" must be an integer >= "${minimum[key]}", got "${value}"`,
      );
    }
  }
  if (resolved.countries * resolved.citiesPerCountry < 2) {
    throw new RangeError('World needs at least "2" cities in all');
  }
  const { split } = resolved;
  let sum = 0;
  for (const s of SPLIT_NAMES) {
    const f = split[s];
    if (typeof f !== "number" || !(f >= 0 && f <= 1)) {
      throw new RangeError(`Split fraction "${s}" must be in [0, 1], got "${f}"`);
    }
    sum += f;
  }
  if (Math.abs(sum - 1) > 1e-9) {
    throw new RangeError(`Split fractions must sum to "1", got "${sum}"`);
  }
  if (split.locality === 0) {
    throw new RangeError('Split fraction "locality" must be positive: it supplies locality probes');
  }
  return resolved;
}
