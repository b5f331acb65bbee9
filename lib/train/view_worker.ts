/**
 * Worker entry of the view feed (lib/train/step_views.ts): opens the
 * sharded cache from the clip table it is given first, then renders each
 * batch of view draws it is sent into one transferred buffer.
 *
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import { logMel } from "../features/mel.ts";
import { serveJobs } from "../features/worker_pool.ts";
import { shardClips } from "./cache_shards.ts";
import { renderViews, type ViewWorkerInit } from "./step_views.ts";
import type { ViewContext, ViewDraw } from "./views.ts";

let ctx: ViewContext | null = null;

serveJobs<ViewDraw[], Float32Array>(
  (draws) => {
    const out = renderViews(ctx!, draws);
    return { result: out, transfer: [out.buffer as ArrayBuffer] };
  },
  (value) => {
    const { table, cropLength, nMels } = value as ViewWorkerInit;
    // The same featurize as PretrainSession's default.
    ctx = { clips: shardClips(table), cropLength, nMels, featurize: (crop) => logMel(crop).data };
  },
);
