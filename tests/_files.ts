// A temporary folder for a test body, removed afterwards whatever happens.

/**
 * Runs `fn` with a fresh temporary folder and removes the folder afterwards.
 * @param fn The test body, given the folder's path.
 */
export async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
