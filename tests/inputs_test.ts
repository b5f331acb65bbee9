import assert from "node:assert/strict";
import { join } from "node:path";
import { InputError } from "../lib/errors.ts";
import { expandInputs, shard } from "../lib/audio/inputs.ts";
import { permissionsEnforcedWrapper, ROOT } from "./_audio_helpers.ts";

/** Makes a temporary tree: data/{b.wav, a.FLAC, notes.txt, sub/c.mp3, sub/deeper/d.ogg}. */
async function tree(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "atst_inputs_" });
  for (const f of ["b.wav", "a.FLAC", "notes.txt", "sub/c.mp3", "sub/deeper/d.ogg"]) {
    await Deno.mkdir(join(root, "data", f, ".."), { recursive: true });
    await Deno.writeTextFile(join(root, "data", f), "x");
  }
  return root;
}

/** Runs expandInputs(args) in a child Deno process; returns rels and [path, reason] pairs. */
async function expandInChild(
  args: string[],
  opts: { cwd?: string; wrapper?: string[] } = {},
): Promise<{ files: string[]; errors: [string, string][] }> {
  const script = `import { expandInputs } from "${ROOT}lib/audio/inputs.ts";
const r = await expandInputs(${JSON.stringify(args)});
console.log(JSON.stringify({ files: r.files.map((f) => f.rel), errors: r.errors.map((e) => [e.path, e.reason]) }));`;
  const [cmd, ...rest] = [...(opts.wrapper ?? []), Deno.execPath(), "eval", script];
  const out = await new Deno.Command(cmd!, { args: rest, cwd: opts.cwd, stderr: "inherit" })
    .output();
  assert.ok(out.success, "child process failed");
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

function stream(text: string): ReadableStream<Uint8Array> {
  return new Blob([text]).stream();
}

Deno.test("a folder expands recursively to its audio files, sorted, with paths relative to it", async () => {
  const root = await tree();
  const { files, errors } = await expandInputs([join(root, "data")]);
  assert.deepEqual(errors, []);
  assert.deepEqual(files.map((f) => f.rel), ["a.FLAC", "b.wav", "sub/c.mp3", "sub/deeper/d.ogg"]);
  assert.equal(files[0]!.path, join(root, "data", "a.FLAC"));
  await Deno.remove(root, { recursive: true });
});

Deno.test("file arguments keep their relative path, absolute or upward paths their name", async () => {
  const root = await tree();
  // Relative paths are resolved against the working folder: expand in a child process
  // started inside the tree (Deno.chdir would affect tests running in parallel).
  const r = await expandInChild(
    ["sub/c.mp3", join(root, "data", "b.wav"), "../data/notes.txt", "./sub/../b.wav"],
    { cwd: join(root, "data") },
  );
  assert.deepEqual(r.errors, []);
  // A named file is taken whatever its extension; the same file twice is kept once.
  assert.deepEqual(r.files, ["sub/c.mp3", "b.wav", "notes.txt"]);
  await Deno.remove(root, { recursive: true });
});

Deno.test("@list files and '-' on stdin name paths one per line, skipping blanks and comments", async () => {
  const root = await tree();
  const list = join(root, "list.txt");
  await Deno.writeTextFile(
    list,
    `# training files\n${join(root, "data/b.wav")}\n\n${join(root, "data/sub")}\n`,
  );
  const a = await expandInputs([`@${list}`]);
  assert.deepEqual(a.errors, []);
  assert.deepEqual(a.files.map((f) => f.rel), ["b.wav", "c.mp3", "deeper/d.ogg"]);
  const b = await expandInputs(["-"], {
    stdin: stream(`${join(root, "data/a.FLAC")}\r\n${join(root, "missing.wav")}\n`),
  });
  assert.deepEqual(b.files.map((f) => f.rel), ["a.FLAC"]);
  assert.equal(b.errors.length, 1);
  await Deno.remove(root, { recursive: true });
});

Deno.test("missing paths and lists become InputError entries and the rest is still expanded", async () => {
  const root = await tree();
  const { files, errors } = await expandInputs([
    join(root, "nope.wav"),
    `@${join(root, "nolist.txt")}`,
    join(root, "data", "b.wav"),
  ]);
  assert.deepEqual(files.map((f) => f.rel), ["b.wav"]);
  assert.equal(errors.length, 2);
  assert.ok(errors.every((e) => e instanceof InputError));
  assert.equal(errors[0]!.path, join(root, "nope.wav"));
  assert.match(errors[0]!.reason, /no such file or directory/);
  assert.match(errors[1]!.reason, /cannot read list: no such file or directory/);
  await Deno.remove(root, { recursive: true });
});

Deno.test("two different files that would mirror to the same relative path make an error", async () => {
  const root = await tree();
  await Deno.mkdir(join(root, "other"));
  await Deno.writeTextFile(join(root, "other", "b.wav"), "x");
  const { files, errors } = await expandInputs([join(root, "data"), join(root, "other")]);
  assert.equal(files.filter((f) => f.rel === "b.wav").length, 1);
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.reason, /output name 'b.wav' is already used/);
  await Deno.remove(root, { recursive: true });
});

Deno.test("symbolic link loops do not hang the folder search", async () => {
  const root = await tree();
  await Deno.symlink(join(root, "data"), join(root, "data", "sub", "loop"));
  await Deno.symlink(join(root, "data", "self.wav"), join(root, "data", "self.wav")).catch(
    () => {},
  );
  const { files, errors } = await expandInputs([join(root, "data")]);
  assert.deepEqual(files.map((f) => f.rel), ["a.FLAC", "b.wav", "sub/c.mp3", "sub/deeper/d.ogg"]);
  assert.equal(errors.length, 1); // the self-referencing self.wav
  assert.match(errors[0]!.reason, /symbolic link loop|too many levels/i);
  await Deno.remove(root, { recursive: true });
});

Deno.test("an unreadable folder becomes an InputError and its readable siblings are kept", async (t) => {
  const wrapper = permissionsEnforcedWrapper();
  await t.step({
    name: "with permission checks enforced",
    ignore: wrapper === null,
    fn: async () => {
      const root = await tree();
      await Deno.chmod(join(root, "data", "sub"), 0o000);
      try {
        // A child process, so that root can run it without the capabilities that bypass chmod.
        const r = await expandInChild([join(root, "data")], { wrapper: wrapper! });
        assert.deepEqual(r.files, ["a.FLAC", "b.wav"]);
        assert.deepEqual(r.errors, [[
          join(root, "data", "sub"),
          "cannot list folder: permission denied",
        ]]);
      } finally {
        await Deno.chmod(join(root, "data", "sub"), 0o755);
        await Deno.remove(root, { recursive: true });
      }
    },
  });
});

Deno.test("shard splits deterministically into disjoint parts that cover everything", () => {
  const items = Array.from({ length: 10 }, (_, i) => i);
  const parts = [1, 2, 3].map((k) => shard(items, k, 3));
  assert.deepEqual(parts, [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]);
  assert.deepEqual(parts.flat().sort((a, b) => a - b), items);
  assert.deepEqual(shard(items, 1, 1), items);
  assert.throws(() => shard(items, 0, 3), /1 <= k <= n/);
  assert.throws(() => shard(items, 4, 3), /1 <= k <= n/);
});
