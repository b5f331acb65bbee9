import assert from "node:assert/strict";
import { join } from "node:path";
import { fixture, ROOT } from "./_helpers.ts";

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("a reader of stdout that stops early ends atst quietly with exit 0", async () => {
  const audio = ["short_700.wav", "long_13s.flac", "stereo_44k.wav", "mono_8k.wav"]
    .map((f) => fixture("audio", f));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "main.ts"), "embed", ...audio, ...audio, "--quiet"]
      .concat(["--model", fixture("model", "b.safetensors")]),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Like `| head -c 100`: read the first chunk (the header line), then hang up.
  const reader = child.stdout.getReader();
  const first = await reader.read();
  assert.ok(first.value && decode(first.value).startsWith('{"atst"'));
  await reader.cancel();
  const [status, err] = await Promise.all([
    child.status,
    new Response(child.stderr).text(),
  ]);
  assert.equal(err, "", "no stack trace, no message");
  assert.equal(status.code, 0);
});

Deno.test("an unknown command is one line and exit 2", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "main.ts"), "embedd"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  const err = decode(out.stderr).trim();
  assert.equal(err.split("\n").length, 1);
  assert.match(err, /unknown command 'embedd'/);
});
