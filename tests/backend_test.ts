/**
 * Backend selection: explicit names, `auto`, clear refusals, and the
 * `atst --backends` listing. What is available differs between machines,
 * so each check asks the same probes the code uses and then holds the
 * code to what they found.
 */
import assert from "node:assert/strict";
import { tf } from "../lib/backend/tf.ts";
import {
  autoChoice,
  BACKENDS,
  hasFastMatrixProducts,
  NATIVE_APT_PACKAGES,
  probeBackends,
  useBackend,
} from "../lib/backend/backend.ts";
import { probeAdapter } from "../lib/backend/webgpu.ts";
import { findTensorflow, TENSORFLOW_INSTALL_HINT } from "../lib/backend/tensorflow.ts";
import { registerNativeBackend } from "../lib/backend/native/register.ts";
import { UserError } from "../lib/errors.ts";
import { ROOT, runCli } from "./_helpers.ts";

/** Runs `fn` with console.error captured; returns the lines it printed. */
async function stderrOf(fn: () => Promise<unknown>): Promise<string[]> {
  const lines: string[] = [];
  const orig = console.error;
  console.error = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    await fn();
  } finally {
    console.error = orig;
  }
  return lines;
}

/** erf(x @ ones) on the active backend, read asynchronously (webgpu has no sync reads). */
async function smallResult(): Promise<number[]> {
  const y = tf.tidy(() =>
    tf.erf(tf.matMul(tf.tensor2d([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [2, 3]), tf.ones([3, 2])))
  );
  const out = Array.from(await y.data());
  y.dispose();
  return out;
}

/** erf(0.6) and erf(1.5) to double precision; tfjs's erf is good to about 1.5e-7. */
const EXPECTED = [0.6038560908479259, 0.6038560908479259, 0.9661051464753108, 0.9661051464753108];

function assertExpected(got: number[]): void {
  assert.equal(got.length, EXPECTED.length);
  for (let i = 0; i < got.length; i++) {
    assert.ok(
      Math.abs(got[i]! - EXPECTED[i]!) <= 1e-6,
      `element ${i}: ${got[i]} vs ${EXPECTED[i]}`,
    );
  }
}

Deno.test("each explicit backend either runs ops or is refused with a UserError saying why", async (t) => {
  const adapter = await probeAdapter();
  const native = await registerNativeBackend();
  const canRun: Record<string, boolean> = {
    cpu: true,
    wasm: true,
    native: native.ok,
    webgpu: adapter.ok,
    tensorflow: findTensorflow().ok,
  };
  for (const name of BACKENDS) {
    if (name === "auto") continue;
    await t.step(`${name} (${canRun[name] ? "usable here" : "not usable here"})`, async () => {
      if (canRun[name]) {
        let used = "";
        const said = await stderrOf(async () => used = await useBackend(name));
        assert.equal(used, name);
        // Only a software GPU earns a remark when chosen explicitly.
        const software = name === "webgpu" && adapter.ok && adapter.software;
        assert.equal(said.length, software ? 1 : 0, JSON.stringify(said));
        if (software) assert.match(said[0]!, /^atst: backend webgpu runs on a software adapter /);
        assert.equal(tf.getBackend(), name);
        assertExpected(await smallResult());
      } else {
        const err = await useBackend(name, { quiet: true }).then(() => null, (e) => e);
        assert.ok(err instanceof UserError, `expected a UserError, got ${err}`);
        assert.match(err.message, new RegExp(`^Backend '${name}' is not available: .+`));
        assert.ok(!err.message.includes("\n"), "the reason fits on one line");
      }
    });
  }
  await tf.setBackend("cpu");
});

Deno.test({
  name: "tensorflow is refused with the install command when tfjs-node is not installed",
  ignore: findTensorflow().ok,
  async fn() {
    await assert.rejects(
      () => useBackend("tensorflow", { quiet: true }),
      (err: Error) => {
        assert.ok(err instanceof UserError);
        assert.ok(err.message.includes(TENSORFLOW_INSTALL_HINT), err.message);
        assert.match(
          err.message,
          /deno install --save-exact --allow-scripts=npm:@tensorflow\/tfjs-node-gpu /,
        );
        return true;
      },
    );
  },
});

Deno.test("an unknown backend name is a UserError listing the valid ones", async () => {
  await assert.rejects(
    () => useBackend("cuda" as never, { quiet: true }),
    (err: Error) => err instanceof UserError && err.message.includes(BACKENDS.join(", ")),
  );
});

Deno.test("auto picks what the probes predict, says so in one line, and never a software GPU", async () => {
  const statuses = await probeBackends();
  const expected = autoChoice(statuses);
  let used = "";
  const lines = await stderrOf(async () => {
    used = await useBackend("auto");
  });
  assert.equal(used, expected);
  assert.equal(tf.getBackend(), used);
  const adapter = await probeAdapter();
  if (adapter.ok && adapter.software) assert.notEqual(used, "webgpu");
  const choice = lines.filter((l) => l.startsWith(`atst: backend ${used} (`));
  assert.equal(choice.length, 1, `one line naming the choice, got ${JSON.stringify(lines)}`);
  assertExpected(await smallResult());
  const quiet = await stderrOf(() => useBackend("auto", { quiet: true }));
  assert.deepEqual(quiet, []);
});

Deno.test({
  name: "auto without a BLAS library names the apt packages once and falls back to wasm",
  // With tfjs-node installed, auto stops at tensorflow before trying native.
  ignore: findTensorflow().ok,
  async fn() {
    // A fresh process: the native backend caches its first answer.
    const code = `
    import { useBackend } from "${ROOT}lib/backend/backend.ts";
    const a = await useBackend("auto");
    const b = await useBackend("auto");
    console.log(JSON.stringify([a, b]));`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--config", `${ROOT}deno.json`, code],
      env: {
        ATST_BLAS: "/nonexistent/libopenblas.so.0",
        DENO_WEBGPU_BACKEND: "none",
        NO_COLOR: "1",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.deepEqual(JSON.parse(stdout), ["wasm", "wasm"]);
    const hints = stderr.split("\n").filter((l) => l.includes(NATIVE_APT_PACKAGES));
    assert.equal(hints.length, 1, stderr);
    assert.match(hints[0]!, /^atst: native kernels unavailable: /);
    assert.equal(stderr.split("\n").filter((l) => l.startsWith("atst: backend wasm (")).length, 2);
  },
});

Deno.test("atst --backends lists every backend, whether it is usable here, and auto's pick", async () => {
  const { code, stdout } = await runCli(["--backends"]);
  assert.equal(code, 0);
  const lines = stdout.trimEnd().split("\n");
  assert.equal(lines.length, BACKENDS.length);
  const line = (name: string) => {
    const l = lines.find((x) => x.startsWith(`${name} `));
    assert.ok(l, `no line for ${name} in:\n${stdout}`);
    return l.slice(name.length).trim();
  };
  assert.match(line("cpu"), /^available \(/);
  assert.match(line("wasm"), /^available \(/);
  const native = await registerNativeBackend();
  assert.match(
    line("native"),
    native.ok ? /^available \(cpu kernels with .+\)$/ : /^unavailable: /,
  );
  const tfjsNode = findTensorflow();
  if (tfjsNode.ok) assert.match(line("tensorflow"), /^(available|unavailable: .+ failed to load)/);
  else assert.equal(line("tensorflow"), `unavailable: ${tfjsNode.reason}`);
  const adapter = await probeAdapter();
  if (!adapter.ok) assert.equal(line("webgpu"), `unavailable: ${adapter.reason}`);
  else if (adapter.software) {
    assert.equal(
      line("webgpu"),
      `available (software adapter ${adapter.description}; not used by auto)`,
    );
  } else assert.equal(line("webgpu"), `available (GPU ${adapter.description})`);
  const pick = line("auto").replace(/^picks /, "");
  assert.match(line(pick), /^available/);
  if (adapter.ok && adapter.software) assert.notEqual(pick, "webgpu");
});

Deno.test("the CLI gives WebGPU a private XDG_RUNTIME_DIR when none is set, so Vulkan stays quiet", async () => {
  const env = Deno.env.toObject();
  delete env.XDG_RUNTIME_DIR;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}main.ts`, "--backends"],
    clearEnv: true,
    env: { ...env, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  assert.ok(!stderr.includes("XDG_RUNTIME_DIR"), stderr);
});

Deno.test("only BLAS and GPU backends count as having fast matrix products", async () => {
  const before = tf.getBackend();
  await useBackend("cpu", { quiet: true });
  assert.equal(hasFastMatrixProducts(), false);
  await useBackend("wasm", { quiet: true });
  assert.equal(hasFastMatrixProducts(), false);
  if ((await registerNativeBackend()).ok) {
    await useBackend("native", { quiet: true });
    assert.equal(hasFastMatrixProducts(), true);
  }
  await tf.setBackend(before);
});
