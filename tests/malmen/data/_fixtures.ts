/**
 * Small invented records in each supported layout (no real data is copied into the repo).
 * @module
 */

/** Two flattened-CounterFact records. */
export const COUNTERFACT_RAW: Record<string, unknown>[] = [
  {
    case_id: 5,
    prompt: "The mother tongue of Ilsa Varn is",
    target_new: "Tolvish",
    subject: "Ilsa Varn",
    ground_truth: "Mereic",
    rephrase_prompt: "Ilsa Varn grew up speaking",
    locality_prompt: "Odo Prell is a native speaker of",
    locality_ground_truth: "Mereic",
  },
  {
    case_id: 9,
    prompt: "Kesto Labs is headquartered in",
    target_new: "Port Amel",
    subject: "Kesto Labs",
    ground_truth: "Dravo",
    rephrase_prompt: "The headquarters of Kesto Labs are in",
    locality_prompt: "Brin Motors is headquartered in",
    locality_ground_truth: "Dravo",
    relation: "headquartered_in",
    extra: "ignored",
  },
];

/** Two ROME-format zsRE records; the second has an empty `alt`. */
export const ZSRE_RAW: Record<string, unknown>[] = [
  {
    subject: "Ilsa Varn",
    src: "Which language does Ilsa Varn speak?",
    pred: "Tolvish",
    rephrase: "What language is spoken by Ilsa Varn?",
    alt: "Mereic",
    answers: ["Tolvish", "Old Tolvish"],
    loc: "nq question: who founded the town of dravo",
    loc_ans: "Odo Prell",
    cond: "Tolvish >> Mereic || Which language does Ilsa Varn speak?",
  },
  {
    subject: "Kesto Labs",
    src: "What gender is Kesto Labs?",
    pred: "none",
    rephrase: "Which sex is Kesto Labs?",
    alt: "",
    answers: ["none"],
    loc: "nq question: when did the dravo bridge open",
    loc_ans: "1911",
    cond: "none >>  || What gender is Kesto Labs?",
  },
];

/** The records as JSON Lines. */
export function toJsonl(records: unknown[]): string {
  return records.map((r) => JSON.stringify(r)).join("\n") + "\n";
}
