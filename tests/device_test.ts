import assert from "node:assert/strict";
import { bindLocalDevice } from "../lib/dist/device.ts";

Deno.test("bindLocalDevice gives each rank of a node the GPU of its local rank, once", async (t) => {
  const saved = Deno.env.get("CUDA_VISIBLE_DEVICES");
  try {
    await t.step("one process: nothing is set", () => {
      Deno.env.delete("CUDA_VISIBLE_DEVICES");
      assert.equal(bindLocalDevice({ size: 1, localRank: 0 }), null);
      assert.equal(Deno.env.get("CUDA_VISIBLE_DEVICES"), undefined);
    });
    await t.step("several ranks: the local rank becomes the visible device", () => {
      Deno.env.delete("CUDA_VISIBLE_DEVICES");
      assert.equal(bindLocalDevice({ size: 4, localRank: 3 }), "3");
      assert.equal(Deno.env.get("CUDA_VISIBLE_DEVICES"), "3");
    });
    await t.step("a value the user set is kept", () => {
      Deno.env.set("CUDA_VISIBLE_DEVICES", "0,1");
      assert.equal(bindLocalDevice({ size: 4, localRank: 2 }), null);
      assert.equal(Deno.env.get("CUDA_VISIBLE_DEVICES"), "0,1");
    });
  } finally {
    if (saved === undefined) Deno.env.delete("CUDA_VISIBLE_DEVICES");
    else Deno.env.set("CUDA_VISIBLE_DEVICES", saved);
  }
});
