// A hand-made edit outcome of two requests, shared by the report and summary-line tests.
import type { EditRecord } from "../../../malmen/data/edit_record.ts";
import type { EditScores } from "../../../malmen/eval/edit_and_score.ts";
import { summarize } from "../../../malmen/eval/metrics.ts";
import type { EditRequest } from "../../../malmen/eval/requests.ts";

export const perRequest = {
  es: [1, 0.5],
  gs: [0, 1],
  ls: [1, 1],
  efficacy: [1, 0],
  paraphrase: [0, 1],
  neighborhood: [1, 1],
};
const perRequestBefore = {
  es: [0, 0],
  gs: [0, 0.5],
  ls: [1, 0],
  efficacy: [0, 0],
  paraphrase: [0, 0],
  neighborhood: [1, 1],
};
export const scores: EditScores = {
  editor: "memit",
  m: 2,
  before: summarize(perRequestBefore),
  after: summarize(perRequest),
  perRequest,
  perRequestBefore,
  seconds: 1.23456,
  peakRssMb: 100,
  gpuLiveMb: 0,
};
export const requests = [7, 9].map((id) => ({
  record: { case_id: id, prompt: `p${id}`, target_new: `t${id}` } as EditRecord,
})) as unknown as EditRequest[];
