// The tokenizer files of an HF GPT-2 directory: vocab.json and merges.txt written and read
// back, which tokenizer wins when several are possible, and errors that name the file.
import assert from "node:assert/strict";
import { BYTE_TO_CHAR } from "../../../../engine/models/tokenizer/byte_unicode.ts";
import { buildCompactTokenizer } from "../../../../engine/models/tokenizer/compact.ts";
import { Gpt2Tokenizer, loadGpt2Tokenizer } from "../../../../engine/models/tokenizer/gpt2.ts";
import {
  loadHfTokenizer,
  readHfVocabulary,
  writeHfVocabulary,
} from "../../../../engine/models/tokenizer/hf_tokenizer.ts";
import { withTempDir } from "../../../_files.ts";

const gpt2 = await loadGpt2Tokenizer();

/** A toy vocabulary: the 256 bytes, the end-of-text token, and "he". */
function toyVocabulary() {
  const encoder: Record<string, number> = {};
  BYTE_TO_CHAR.forEach((char, byte) => encoder[char] = byte);
  return {
    encoder: { ...encoder, "<|endoftext|>": 256, he: 257 },
    merges: [["h", "e"] as const],
  };
}

Deno.test("`writeHfVocabulary()` writes GPT-2's files as transformers has them; they read back", async () => {
  await withTempDir(async (dir) => {
    await writeHfVocabulary(dir, gpt2.vocabulary);
    const merges = await Deno.readTextFile(`${dir}/merges.txt`);
    assert.ok(merges.startsWith("#version: 0.2\nĠ t\nĠ a\nh e\n"), merges.slice(0, 40));
    assert.equal(merges.split("\n").length, 50000 + 2);
    const vocab = JSON.parse(await Deno.readTextFile(`${dir}/vocab.json`));
    assert.equal(vocab["hello"], 31373);
    assert.equal(Object.keys(vocab).length, 50257);
    assert.deepEqual(await readHfVocabulary(dir), gpt2.vocabulary);
    const read = await loadHfTokenizer(dir, 50257);
    assert.ok(read instanceof Gpt2Tokenizer && read !== gpt2);
    assert.deepEqual(read.encode("The capital of France is Paris."), [
      464,
      3139,
      286,
      4881,
      318,
      6342,
      13,
    ]);
  });
});

Deno.test("`loadHfTokenizer()` uses a directory's own vocabulary over GPT-2's", async () => {
  await withTempDir(async (dir) => {
    await writeHfVocabulary(dir, toyVocabulary());
    const toy = await loadHfTokenizer(dir, 300);
    assert.equal(toy.vocabSize, 258);
    assert.deepEqual(toy.encode("hehe"), [257, 257]);
    // No files: GPT-2's own for a GPT-2-sized model, an error otherwise.
    await Deno.remove(`${dir}/vocab.json`);
    await Deno.remove(`${dir}/merges.txt`);
    assert.equal(await loadHfTokenizer(dir, 50257), gpt2);
    await assert.rejects(
      () => loadHfTokenizer(dir, 300),
      new RegExp(
        `${dir}: no tokenizer \\(vocab.json and merges.txt are missing, and the model's 300 token ids are not GPT-2's 50257\\)`,
      ),
    );
  });
});

Deno.test("`loadHfTokenizer()` prefers a saved compact tokenizer to stale vocabulary files", async () => {
  await withTempDir(async (dir) => {
    await writeHfVocabulary(dir, toyVocabulary());
    const compact = buildCompactTokenizer(gpt2, ["Paris is the capital of France"]);
    const read = await loadHfTokenizer(dir, compact.vocabSize, compact.toJSON());
    assert.deepEqual(read.toJSON(), compact.toJSON());
    // A GPT-2 tokenizer saved in config.json defers to the files beside it.
    const files = await loadHfTokenizer(dir, 300, gpt2.toJSON());
    assert.equal(files.vocabSize, 258);
  });
});

Deno.test("`loadHfTokenizer()` names a missing or malformed file and a tokenizer too large", async () => {
  await withTempDir(async (dir) => {
    await writeHfVocabulary(dir, toyVocabulary());
    await assert.rejects(
      () => loadHfTokenizer(dir, 200),
      { message: `${dir}: the tokenizer has 258 tokens, more than the model's 200` },
    );
    await Deno.writeTextFile(`${dir}/merges.txt`, "#version: 0.2\nh e x\n");
    await assert.rejects(
      () => loadHfTokenizer(dir, 300),
      { message: `${dir}/merges.txt: Invalid merge rule "h e x" on line 2: expected "left right"` },
    );
    await Deno.writeTextFile(`${dir}/vocab.json`, '{"a": 0}');
    await Deno.writeTextFile(`${dir}/merges.txt`, "#version: 0.2\n");
    await assert.rejects(() => loadHfTokenizer(dir, 300), /vocab.json: Missing token for byte "0"/);
    await Deno.writeTextFile(`${dir}/vocab.json`, "[1]");
    await assert.rejects(() => loadHfTokenizer(dir, 300), {
      message: `${dir}/vocab.json: expected an object of token → id`,
    });
    await Deno.remove(`${dir}/merges.txt`);
    await assert.rejects(
      () => loadHfTokenizer(dir, 300),
      {
        message:
          `${dir}: merges.txt is missing (vocab.json is there; a GPT-2 tokenizer needs both)`,
      },
    );
  });
});
