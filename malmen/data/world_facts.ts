/**
 * Invents the entities of the synthetic world and the true facts linking them (internal to the
 * world generator). The world is loosely coherent so it reads like one world: a capital lies in
 * its country, and most people are citizens of their birth city's country and speak its language.
 * @module
 */

import { capitalize, createNameMaker, type NameMaker } from "./names.ts";
import type { Rng } from "./prng.ts";
import { type EntityKind, RELATIONS } from "./relations.ts";

/**
 * One true fact of the world.
 * @example
 * ```ts
 * import type { Fact } from "./world_facts.ts";
 * const fact: Fact = { id: 0, subject: "Kardia", subjectKind: "country", relation: "capital", object: "Port Velan" };
 * console.log(fact.object);
 * ```
 */
export interface Fact {
  /** Index in the world's fact list; becomes `case_id` of the fact's edit record. */
  id: number;
  /** The subject's name. */
  subject: string;
  /** The subject's kind. */
  subjectKind: EntityKind;
  /** Relation id (see `RELATIONS`). */
  relation: string;
  /** The true answer. */
  object: string;
}

/**
 * How many entities of each kind to invent.
 * @example
 * ```ts
 * import type { WorldSizes } from "./world_facts.ts";
 * const sizes: Partial<WorldSizes> = { people: 50 };
 * console.log(sizes.people);
 * ```
 */
export interface WorldSizes {
  /** People: the main subjects (7 facts each). */
  people: number;
  /** Countries (2 facts each: capital, official language). */
  countries: number;
  /** Cities per country (1 fact each: its country); the first is the capital. */
  citiesPerCountry: number;
  /** Companies (1 fact each: headquarters city). */
  companies: number;
  /** Instruments (objects only). */
  instruments: number;
  /** Sports (objects only). */
  sports: number;
  /** Colors (objects only). */
  colors: number;
}

/**
 * The invented entities and facts.
 * @example
 * ```ts
 * import { createRng } from "./prng.ts";
 * import { generateFacts, type WorldFacts } from "./world_facts.ts";
 * const sizes = { people: 4, countries: 2, citiesPerCountry: 1, companies: 2, instruments: 2, sports: 2, colors: 2 };
 * const world: WorldFacts = generateFacts(createRng(1), sizes);
 * console.log(world.entities.country.length); // 2
 * ```
 */
export interface WorldFacts {
  /** Every entity name, by kind, in creation order. */
  entities: Record<EntityKind, string[]>;
  /** Every true fact: countries, then cities, companies and people, each in RELATIONS order. */
  facts: Fact[];
}

// Affix words for multi-word names; reserved so no invented stem equals one.
const COUNTRY_SUFFIXES = ["ia", "land", "ara", "esh", "ovia"];
const COUNTRY_PREFIXES = ["North", "South"];
const LANGUAGE_SUFFIXES = ["ish", "ese", "ian", "ic"];
const CITY_PREFIXES = ["Port", "New", "Fort", "Lake"];
const CITY_SUFFIXES = ["Bay", "Falls", "Hill", "Harbor"];
const COMPANY_SUFFIXES = ["Dynamics", "Systems", "Works", "Labs", "Motors", "Foods", "Media"];
const INSTRUMENT_NOUNS = ["horn", "flute", "harp", "drum", "pipe", "lute"];
const SPORT_NOUNS = ["racing", "jumping", "sailing", "wrestling"];
const COLOR_MODIFIERS = ["pale", "deep", "bright"];

const AFFIXES: readonly string[] = [
  ...COUNTRY_PREFIXES,
  ...CITY_PREFIXES,
  ...CITY_SUFFIXES,
  ...COMPANY_SUFFIXES,
  ...INSTRUMENT_NOUNS,
  ...SPORT_NOUNS,
  ...COLOR_MODIFIERS,
];

/**
 * Invents entities and true facts.
 * @param rng Seeded random stream.
 * @param sizes Entity counts (validated by the caller).
 * @returns Entities by kind and facts in a fixed order.
 * @example
 * ```ts
 * import { createRng } from "./prng.ts";
 * import { generateFacts } from "./world_facts.ts";
 * const { facts } = generateFacts(createRng(1), {
 *   people: 4, countries: 2, citiesPerCountry: 2, companies: 2, instruments: 2, sports: 2,
 *   colors: 2,
 * });
 * console.log(facts.length); // 2*2 + 4 + 2 + 4*7 = 38
 * ```
 */
export function generateFacts(rng: Rng, sizes: WorldSizes): WorldFacts {
  const names = createNameMaker(rng, reservedWords());
  const entities: Record<EntityKind, string[]> = {
    person: [],
    city: [],
    country: [],
    language: [],
    company: [],
    instrument: [],
    sport: [],
    color: [],
  };
  // Object of each (relation, subject) pair.
  const truth = new Map<string, Map<string, string>>(RELATIONS.map((r) => [r.id, new Map()]));
  const set = (relation: string, subject: string, object: string): void => {
    truth.get(relation)!.set(subject, object);
  };

  for (let i = 0; i < sizes.countries; i++) {
    const [core, language] = composeCountry(rng, names);
    const country = rng.nextFloat() < 0.2 ? `${rng.pick(COUNTRY_PREFIXES)} ${core}` : core;
    entities.country.push(country);
    entities.language.push(language);
    set("official_language", country, language);
    for (let j = 0; j < sizes.citiesPerCountry; j++) {
      const city = composeCity(rng, names);
      entities.city.push(city);
      set("located_in", city, country);
      if (j === 0) set("capital", country, city);
    }
  }
  for (let i = 0; i < sizes.companies; i++) {
    const company = `${capitalize(names.stem(2, 2))} ${rng.pick(COMPANY_SUFFIXES)}`;
    entities.company.push(company);
    set("headquartered_in", company, rng.pick(entities.city));
  }
  for (let i = 0; i < sizes.instruments; i++) {
    const stem = names.stem(2, 2);
    entities.instrument.push(
      rng.nextFloat() < 0.4 ? `${stem} ${rng.pick(INSTRUMENT_NOUNS)}` : stem,
    );
  }
  for (let i = 0; i < sizes.sports; i++) entities.sport.push(composeSport(rng, names));
  for (let i = 0; i < sizes.colors; i++) {
    const stem = names.stem(1, 2);
    entities.color.push(rng.nextFloat() < 0.3 ? `${rng.pick(COLOR_MODIFIERS)} ${stem}` : stem);
  }
  entities.person.push(...composePeople(rng, names, sizes.people));

  const instruments = covering(rng, sizes.people, entities.instrument);
  const sports = covering(rng, sizes.people, entities.sport);
  const colors = covering(rng, sizes.people, entities.color);
  entities.person.forEach((person, i) => {
    const city = rng.pick(entities.city);
    set("born_in", person, city);
    const country = rng.nextFloat() < 0.75
      ? truth.get("located_in")!.get(city)!
      : rng.pick(entities.country);
    set("citizen_of", person, country);
    const language = rng.nextFloat() < 0.8
      ? truth.get("official_language")!.get(country)!
      : rng.pick(entities.language);
    set("native_language", person, language);
    set("plays_instrument", person, instruments[i]);
    set("works_for", person, rng.pick(entities.company));
    set("plays_sport", person, sports[i]);
    set("favorite_color", person, colors[i]);
  });

  const facts: Fact[] = [];
  for (const kind of ["country", "city", "company", "person"] as const) {
    for (const subject of entities[kind]) {
      for (const relation of RELATIONS) {
        if (relation.subjectKind !== kind) continue;
        const object = truth.get(relation.id)!.get(subject)!;
        facts.push({ id: facts.length, subject, subjectKind: kind, relation: relation.id, object });
      }
    }
  }
  return { entities, facts };
}

function reservedWords(): string[] {
  const words = new Set<string>(AFFIXES.map((w) => w.toLowerCase()));
  for (const relation of RELATIONS) {
    for (const t of [...relation.trainTemplates, ...relation.heldOutTemplates]) {
      for (const w of t.split(" ")) if (w !== "{}") words.add(w.toLowerCase());
    }
  }
  return [...words];
}

/** A country's core name and its language, both from one stem ("Kardia", "Kardish"). */
function composeCountry(rng: Rng, names: NameMaker): [string, string] {
  for (;;) {
    const stem = names.stem(2, 2);
    const country = capitalize(attach(stem, rng.pick(COUNTRY_SUFFIXES)));
    const language = capitalize(attach(stem, rng.pick(LANGUAGE_SUFFIXES)));
    // Claim both or retry: a composed word may equal another stem.
    if (names.claim(country) && names.claim(language)) return [country, language];
  }
}

/** Joins stem and suffix, dropping the stem's final vowels before a vowel ("vabai" + "ia"). */
function attach(stem: string, suffix: string): string {
  if (!/^[aeiou]/.test(suffix)) return stem + suffix;
  const trimmed = stem.replace(/[aeiou]+$/, "");
  return (trimmed.length >= 3 ? trimmed : stem) + suffix;
}

/** One-word cities mostly; about a third get a prefix or suffix word ("Port Velan"). */
function composeCity(rng: Rng, names: NameMaker): string {
  const core = capitalize(names.stem(2, 2));
  const r = rng.nextFloat();
  if (r < 0.175) return `${rng.pick(CITY_PREFIXES)} ${core}`;
  if (r < 0.35) return `${core} ${rng.pick(CITY_SUFFIXES)}`;
  return core;
}

/** Half one-word "...ball" sports, half two-word ("drev sailing"). */
function composeSport(rng: Rng, names: NameMaker): string {
  for (;;) {
    const stem = names.stem(1, 2);
    if (rng.nextFloat() < 0.5) return `${stem} ${rng.pick(SPORT_NOUNS)}`;
    if (names.claim(`${stem}ball`)) return `${stem}ball`;
  }
}

/** `count` distinct "First Last" names from small first- and last-name pools. */
function composePeople(rng: Rng, names: NameMaker, count: number): string[] {
  const firsts: string[] = [];
  const lasts: string[] = [];
  // Pools grow with the population but stay far smaller, keeping the vocabulary small.
  const nFirst = Math.max(4, Math.ceil(count * 0.25));
  const nLast = Math.max(4, Math.ceil(count * 0.4));
  for (let i = 0; i < nFirst; i++) firsts.push(capitalize(names.stem(2, 2)));
  for (let i = 0; i < nLast; i++) lasts.push(capitalize(names.stem(2, 3)));
  const all: string[] = [];
  for (const first of firsts) for (const last of lasts) all.push(`${first} ${last}`);
  return rng.shuffle(all).slice(0, count);
}

/** `n` picks from `values` in which every value occurs at least once when `n` allows. */
function covering(rng: Rng, n: number, values: readonly string[]): string[] {
  const out = rng.shuffle([...values]).slice(0, n);
  while (out.length < n) out.push(rng.pick(values));
  return rng.shuffle(out);
}
