/**
 * Runs the CLI in this process (`deno run -A tests/_peak_rss.ts <atst
 * args>`) and prints its peak resident memory as a last stdout line
 * `VmHWM <kB>` (Linux /proc/self/status), so a test can compare the peaks
 * of two runs in child processes.
 *
 * @module
 */
import { main } from "../main.ts";

const code = await main(Deno.args);
const status = Deno.readTextFileSync("/proc/self/status");
console.log(`VmHWM ${/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? "unknown"}`);
Deno.exit(code);
