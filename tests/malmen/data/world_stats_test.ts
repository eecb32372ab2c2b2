import assert from "node:assert/strict";
import { generateWorld } from "../../../malmen/data/world.ts";
import { describeWorld } from "../../../malmen/data/world_stats.ts";

Deno.test("`describeWorld()` reports a default world small enough for a tiny GPT", () => {
  const stats = describeWorld(generateWorld());
  console.log(`default world: ${JSON.stringify(stats)}`);
  assert.equal(stats.facts, 2096);
  assert.equal(stats.subjects, 400);
  assert.equal(stats.relations, 11);
  assert.equal(stats.trainingTexts, 3 * stats.facts);
  assert.deepEqual(stats.splits, { train: 1048, val: 210, edit: 674, locality: 164 });
  assert.ok(stats.distinctWords >= 200 && stats.distinctWords <= 1500, `${stats.distinctWords}`);
  assert.ok(stats.maxPromptWords <= 12);
  assert.ok(stats.multiWordAnswerFraction > 0.2 && stats.multiWordTargetFraction > 0.2);
});
