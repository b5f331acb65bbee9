import assert from "node:assert/strict";
import { join } from "node:path";
import { fixture, ROOT } from "./_helpers.ts";
import { wrapperScript } from "../tools/install.ts";

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

/** True when `unshare -n` works here (root on Linux): the test then runs with no network. */
async function canUnshareNet(): Promise<boolean> {
  return await new Deno.Command("unshare", { args: ["-n", "true"], stderr: "null" }).output()
    .then((o) => o.success, () => false);
}

Deno.test("the installed atst embeds a file from another folder, offline and without HOME", async () => {
  const prefix = await Deno.makeTempDir({ prefix: "atst-prefix-" });
  const cwd = await Deno.makeTempDir({ prefix: "atst-cwd-" });
  try {
    const inst = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", join(ROOT, "tools/install.ts"), "--prefix", prefix],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(inst.success, decode(inst.stderr));
    const atst = join(prefix, "bin", "atst");
    // The wrapper starts the copied runtime, not npx, on the copied app.
    const script = await Deno.readTextFile(atst);
    assert.ok(script.includes(join(prefix, "lib/atst/deno")), script);
    assert.ok(!script.includes(ROOT), "the wrapper must not depend on the checkout");
    const embedArgs = [
      "embed",
      fixture("audio", "short_700.wav"),
      "--model",
      fixture("model", "b.safetensors"),
      "--quiet",
    ];
    const offline = await canUnshareNet();
    const out = await new Deno.Command(offline ? "unshare" : atst, {
      args: offline ? ["-n", "env", "-u", "HOME", atst, ...embedArgs] : embedArgs,
      cwd,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, decode(out.stderr));
    const lines = decode(out.stdout).trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines[0].kind, "clip embeddings");
    const row = lines.find((l) => Array.isArray(l.embedding));
    assert.ok(row, "one embedding row");
    assert.ok(row.embedding.every((v: unknown) => typeof v === "number" && Number.isFinite(v)));
  } finally {
    await Deno.remove(prefix, { recursive: true });
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("the wrapper passes paths with spaces and quotes, and every argument, to the runtime", async () => {
  const lib = await Deno.makeTempDir({ prefix: "atst wrap 'q' " });
  try {
    // A stand-in runtime that prints its arguments one per line, and DENO_DIR.
    await Deno.writeTextFile(
      join(lib, "deno"),
      '#!/bin/sh\necho "$DENO_DIR"\nprintf "%s\\n" "$@"\n',
      {
        mode: 0o755,
      },
    );
    await Deno.writeTextFile(join(lib, "atst"), wrapperScript(lib, "9.9.9"), { mode: 0o755 });
    const out = await new Deno.Command(join(lib, "atst"), {
      args: ["embed", "a b.wav"],
      stdout: "piped",
    })
      .output();
    assert.ok(out.success);
    assert.deepEqual(decode(out.stdout).trimEnd().split("\n"), [
      join(lib, "cache"),
      "run",
      "-A",
      "--cached-only",
      "--config",
      join(lib, "app", "deno.json"),
      join(lib, "app", "main.ts"),
      "embed",
      "a b.wav",
    ]);
  } finally {
    await Deno.remove(lib, { recursive: true });
  }
});
