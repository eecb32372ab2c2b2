import assert from "node:assert/strict";
import {
  buildCompactTokenizer,
  CompactTokenizer,
} from "../../../../engine/models/tokenizer/compact.ts";
import { loadGpt2Tokenizer } from "../../../../engine/models/tokenizer/gpt2.ts";
import { randomInt, seededRandom } from "./prng.ts";

const gpt2 = await loadGpt2Tokenizer();
const CORPUS = [
  "The Eiffel Tower is in Paris.",
  "The Colosseum is in Rome.",
  "The capital of France is Paris.",
  "Paris is the capital of France.",
];
const compact = buildCompactTokenizer(gpt2, CORPUS);

/** The distinct GPT-2 ids a corpus uses, less the always-kept ones. */
function corpusIds(texts: readonly string[]): Set<number> {
  const ids = new Set(texts.flatMap((text) => gpt2.encode(text)));
  for (let byte = 0; byte < 256; byte++) ids.delete(gpt2.byteTokenId(byte));
  ids.delete(gpt2.endOfTextId);
  return ids;
}

Deno.test("`buildCompactTokenizer()` puts <|endoftext|> at 0 and the bytes at 1..256", () => {
  const ids = compact.gpt2Ids;
  assert.equal(compact.kind, "compact");
  assert.equal(compact.endOfTextId, 0);
  assert.equal(ids[0], gpt2.endOfTextId);
  for (let byte = 0; byte < 256; byte++) assert.equal(ids[1 + byte], gpt2.byteTokenId(byte));
  assert.equal(compact.decode([0]), "<|endoftext|>");
});

Deno.test("`buildCompactTokenizer()` keeps exactly the corpus' other tokens", () => {
  const expected = corpusIds(CORPUS);
  assert.equal(compact.vocabSize, 257 + expected.size);
  assert.deepEqual(new Set(compact.gpt2Ids.slice(257)), expected);
});

Deno.test("`buildCompactTokenizer()` orders kept tokens by count, then by GPT-2 id", () => {
  const tokenizer = buildCompactTokenizer(gpt2, [" zebra zebra zebra apple apple mango"]);
  assert.deepEqual(
    tokenizer.toGpt2Ids(tokenizer.encode(" zebra apple mango")),
    gpt2.encode(" zebra apple mango"),
  );
  // " zebra" is used 3 times (2 after the first), " apple" twice, " mango" once.
  const [zebra] = gpt2.encode(" zebra");
  const [apple] = gpt2.encode(" apple");
  const [mango] = gpt2.encode(" mango");
  const rest = tokenizer.gpt2Ids.slice(257);
  assert.ok(rest.indexOf(zebra) < rest.indexOf(apple));
  assert.ok(rest.indexOf(apple) < rest.indexOf(mango));
  const ties = buildCompactTokenizer(gpt2, [" mango apple"]).gpt2Ids.slice(257);
  assert.deepEqual(ties, [Math.min(apple, mango), Math.max(apple, mango)]);
});

Deno.test("`encode()` gives one id per GPT-2 token when the corpus used it", () => {
  const ids = compact.encode("The capital of France is Paris.");
  assert.deepEqual(compact.toGpt2Ids(ids), gpt2.encode("The capital of France is Paris."));
  // "." is a single-byte token (id 1 + 0x2e); the words are corpus tokens.
  assert.equal(ids.at(-1), 1 + 0x2e);
  assert.ok(ids.slice(0, -1).every((id) => id >= 257));
});

Deno.test("`encode()` falls back to byte tokens when a GPT-2 token was not kept", () => {
  const bytes = new TextEncoder().encode(" zebra");
  assert.deepEqual(compact.encode(" zebra"), [...bytes].map((byte) => 1 + byte));
  assert.deepEqual(compact.encode(" Paris zebra").slice(0, 1), compact.encode(" Paris"));
});

Deno.test("`decode()` inverts `encode()` when the text has unseen words", () => {
  const texts = [
    "A zebra 🦓 visited Paris, then Reykjavík and 東京.",
    "The Colosseum is in Rome, not in Paris!\n\n  Indented   spaces\t\ttabs",
    "\uFEFF\u0000control\u007f e\u0301 👩‍👩‍👧",
    "",
  ];
  for (const text of texts) {
    const ids = compact.encode(text);
    assert.ok(ids.every((id) => Number.isInteger(id) && id >= 0 && id < compact.vocabSize));
    assert.equal(compact.decode(ids), text, JSON.stringify(text));
  }
});

Deno.test("`decode()` inverts `encode()` on seeded random text", () => {
  const random = seededRandom(17);
  const alphabet = [..."Paris France capital tower zebra 0123 ,.!\n é日🙂"];
  for (let n = 0; n < 500; n++) {
    let text = "";
    for (let i = randomInt(random, 40); i > 0; i--) {
      text += random() < 0.1
        ? String.fromCodePoint(randomInt(random, 0xd800))
        : alphabet[randomInt(random, alphabet.length)];
    }
    assert.equal(compact.decode(compact.encode(text)), text, JSON.stringify(text));
  }
});

Deno.test("`buildCompactTokenizer()` drops tokens used less than `minCount` times", () => {
  const tokenizer = buildCompactTokenizer(gpt2, CORPUS, { minCount: 2 });
  const [paris] = gpt2.encode(" Paris");
  const [rome] = gpt2.encode(" Rome");
  assert.ok(tokenizer.gpt2Ids.includes(paris));
  assert.ok(!tokenizer.gpt2Ids.includes(rome));
  assert.ok(tokenizer.vocabSize < compact.vocabSize);
  assert.equal(tokenizer.decode(tokenizer.encode(" Rome")), " Rome");
});

Deno.test("`buildCompactTokenizer()` keeps the most frequent tokens when capped by `maxVocabSize`", () => {
  const tokenizer = buildCompactTokenizer(gpt2, CORPUS, { maxVocabSize: 260 });
  assert.equal(tokenizer.vocabSize, 260);
  assert.deepEqual(tokenizer.gpt2Ids.slice(257), compact.gpt2Ids.slice(257, 260));
  assert.equal(buildCompactTokenizer(gpt2, CORPUS, { maxVocabSize: 257 }).vocabSize, 257);
  assert.equal(
    buildCompactTokenizer(gpt2, CORPUS, { maxVocabSize: 1e6 }).vocabSize,
    compact.vocabSize,
  );
});

Deno.test("`buildCompactTokenizer()` keeps only the fixed tokens when the corpus is empty", () => {
  const tokenizer = buildCompactTokenizer(gpt2, []);
  assert.equal(tokenizer.vocabSize, 257);
  assert.equal(tokenizer.decode(tokenizer.encode("still encodable ✓")), "still encodable ✓");
});

Deno.test("`buildCompactTokenizer()` throws a RangeError when an option is out of range", () => {
  assert.throws(() => buildCompactTokenizer(gpt2, CORPUS, { minCount: 0 }), {
    name: "RangeError",
    message: 'Invalid minCount "0": expected an integer of at least 1',
  });
  assert.throws(() => buildCompactTokenizer(gpt2, CORPUS, { minCount: 1.5 }), RangeError);
  assert.throws(() => buildCompactTokenizer(gpt2, CORPUS, { maxVocabSize: 256 }), {
    name: "RangeError",
    message: 'Invalid maxVocabSize "256": expected an integer of at least 257',
  });
});

Deno.test("`decode()` throws a RangeError naming the id when it is unknown", () => {
  assert.throws(() => compact.decode([1, compact.vocabSize]), {
    name: "RangeError",
    message: `Unknown token id "${compact.vocabSize}": vocabulary has ${compact.vocabSize} tokens`,
  });
  assert.throws(() => compact.decode([-1]), RangeError);
  assert.throws(() => compact.toGpt2Ids([0.5]), RangeError);
});

Deno.test("`new CompactTokenizer()` throws when the kept ids break a rule", () => {
  const ids = compact.gpt2Ids;
  assert.throws(() => new CompactTokenizer(gpt2, [...ids, ids[260]]), {
    name: "RangeError",
    message: `Duplicate GPT-2 token id "${
      ids[260]
    }": it is kept as compact ids 260 and ${ids.length}`,
  });
  assert.throws(() => new CompactTokenizer(gpt2, [...ids, 50257]), {
    name: "RangeError",
    message: 'Unknown token id "50257": vocabulary has 50257 tokens',
  });
  assert.throws(() => new CompactTokenizer(gpt2, ids.filter((_, i) => i !== 1 + 65)), {
    name: "RangeError",
    message: 'Missing single-byte token for byte "65": every byte must be kept',
  });
  assert.throws(() => new CompactTokenizer(gpt2, ids.slice(1)), {
    name: "RangeError",
    message: 'Missing end-of-text token "50256": it must be kept',
  });
  assert.throws(() => new CompactTokenizer(gpt2, "1,2" as unknown as number[]), TypeError);
});

Deno.test("`new CompactTokenizer()` accepts any order of the kept ids", () => {
  const reversed = new CompactTokenizer(gpt2, compact.gpt2Ids.reverse());
  assert.equal(reversed.endOfTextId, compact.vocabSize - 1);
  const text = "The capital of Italy is Rome.";
  assert.equal(reversed.decode(reversed.encode(text)), text);
  assert.deepEqual(
    reversed.toGpt2Ids(reversed.encode(text)),
    compact.toGpt2Ids(compact.encode(text)),
  );
});

Deno.test("`gpt2Ids` returns a copy", () => {
  const ids = compact.gpt2Ids;
  ids[0] = 1;
  assert.equal(compact.gpt2Ids[0], gpt2.endOfTextId);
});
