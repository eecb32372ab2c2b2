/**
 * The synthetic world's entity kinds and relations, each with prompt templates. Training
 * templates are the only phrasings the language model ever sees; held-out templates are kept
 * for paraphrase (generalisation) probes. Held-out templates reuse only words that occur in some
 * training template, so a model trained from scratch has embeddings for every word of a probe.
 * No template is a word-prefix of another template's prompt for the same subject, so every
 * prompt has one answer.
 * @module
 */

/**
 * Kinds of entity in the synthetic world.
 * @example
 * ```ts
 * import type { EntityKind } from "./relations.ts";
 * const kind: EntityKind = "city";
 * console.log(kind);
 * ```
 */
export type EntityKind =
  | "person"
  | "city"
  | "country"
  | "language"
  | "company"
  | "instrument"
  | "sport"
  | "color";

/**
 * A relation between a subject kind and an object kind.
 * @example
 * ```ts
 * import { type Relation, relationById } from "./relations.ts";
 * const born: Relation = relationById("born_in");
 * console.log(born.heldOutTemplates[0]); // "The city where {} was born is"
 * ```
 */
export interface Relation {
  /** Stable identifier, stored in the edit record's `relation` field. */
  readonly id: string;
  /** Kind of the subject. */
  readonly subjectKind: EntityKind;
  /** Kind of the object; every entity of this kind is a valid answer. */
  readonly objectKind: EntityKind;
  /** Templates the LM is trained on; "{}" stands for the subject; the answer follows. */
  readonly trainTemplates: readonly string[];
  /** Templates never used in training text; used for `rephrase_prompt`. */
  readonly heldOutTemplates: readonly string[];
}

/**
 * Every relation of the synthetic world, in generation order.
 * @example
 * ```ts
 * import { RELATIONS } from "./relations.ts";
 * console.log(RELATIONS.map((r) => r.id));
 * ```
 */
export const RELATIONS: readonly Relation[] = [
  {
    id: "capital",
    subjectKind: "country",
    objectKind: "city",
    trainTemplates: ["The capital of {} is", "The capital city of {} is", "{} has its capital in"],
    heldOutTemplates: ["{} has its capital city in", "The capital city of the country {} is"],
  },
  {
    id: "official_language",
    subjectKind: "country",
    objectKind: "language",
    trainTemplates: [
      "The official language of {} is",
      "In {} the official language is",
      "{} is a country where people speak",
    ],
    heldOutTemplates: ["The language people in {} speak is", "{} has the official language"],
  },
  {
    id: "located_in",
    subjectKind: "city",
    objectKind: "country",
    trainTemplates: [
      "{} is a city in",
      "{} is located in the country of",
      "The city of {} lies in",
    ],
    heldOutTemplates: ["The country where {} is located is", "{} is a city located in"],
  },
  {
    id: "headquartered_in",
    subjectKind: "company",
    objectKind: "city",
    trainTemplates: [
      "{} is headquartered in",
      "The headquarters of {} are in",
      "The company {} is based in",
    ],
    heldOutTemplates: ["The company {} has its headquarters in", "{} is a company based in"],
  },
  {
    id: "born_in",
    subjectKind: "person",
    objectKind: "city",
    trainTemplates: [
      "{} was born in",
      "The birthplace of {} is",
      "{} is a native of the city of",
    ],
    heldOutTemplates: ["The city where {} was born is", "The city {} was born in is"],
  },
  {
    id: "citizen_of",
    subjectKind: "person",
    objectKind: "country",
    trainTemplates: [
      "{} is a citizen of",
      "The nationality of {} is",
      "{} holds a passport from",
    ],
    heldOutTemplates: ["The passport of {} is from", "{} holds the nationality of"],
  },
  {
    id: "native_language",
    subjectKind: "person",
    objectKind: "language",
    trainTemplates: [
      "The mother tongue of {} is",
      "{} is a native speaker of",
      "{} grew up speaking",
    ],
    heldOutTemplates: ["The native language of {} is", "The language {} grew up speaking is"],
  },
  {
    id: "plays_instrument",
    subjectKind: "person",
    objectKind: "instrument",
    trainTemplates: [
      "{} plays the",
      "The instrument played by {} is the",
      "{} is a musician who plays the",
    ],
    heldOutTemplates: [
      "The instrument {} plays is the",
      "The instrument played by the musician {} is the",
    ],
  },
  {
    id: "works_for",
    subjectKind: "person",
    objectKind: "company",
    trainTemplates: ["{} works for", "The employer of {} is", "{} is employed by"],
    heldOutTemplates: ["The company {} works for is", "The employer {} works for is"],
  },
  {
    id: "plays_sport",
    subjectKind: "person",
    objectKind: "sport",
    trainTemplates: [
      "{} competes in the sport of",
      "The favorite sport of {} is",
      "{} is a professional athlete in",
    ],
    heldOutTemplates: ["The sport {} plays is", "{} is a professional in the sport of"],
  },
  {
    id: "favorite_color",
    subjectKind: "person",
    objectKind: "color",
    trainTemplates: [
      "The favorite color of {} is",
      "{} likes the color",
      "{} always wears the color",
    ],
    heldOutTemplates: ["The color {} likes is", "The color {} always wears is"],
  },
];

/**
 * Fills a template's "{}" with the subject.
 * @param template A template from {@link RELATIONS}.
 * @example
 * ```ts
 * import { renderTemplate } from "./relations.ts";
 * console.log(renderTemplate("{} was born in", "Mira Tolven")); // "Mira Tolven was born in"
 * ```
 */
export function renderTemplate(template: string, subject: string): string {
  return template.replace("{}", subject);
}

/**
 * Looks up a relation by id.
 * @param id A relation id such as "born_in".
 * @throws {RangeError} If no relation has that id.
 * @example
 * ```ts
 * import { relationById } from "./relations.ts";
 * console.log(relationById("born_in").objectKind); // "city"
 * ```
 */
export function relationById(id: string): Relation {
  const relation = RELATIONS.find((r) => r.id === id);
  if (relation === undefined) throw new RangeError(`Unknown relation "${id}"`);
  return relation;
}
