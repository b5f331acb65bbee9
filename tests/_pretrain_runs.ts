/**
 * Helpers of the tests that run `atst pretrain` as a child process (one
 * process or under mpirun): the training list, the run log, a kill between
 * checkpoints.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fixture } from "./_helpers.ts";

/** Writes DIR/train.txt: a few fixture recordings and one unreadable file. */
export async function writeTrainList(dir: string): Promise<string> {
  const files = [
    "long_13s.flac",
    "stereo_44k.wav",
    "mono_8k.wav",
    "codecs/vorbis.ogg",
    "bad/text.wav",
  ];
  const list = join(dir, "train.txt");
  await Deno.writeTextFile(list, files.map((f) => fixture("audio", f)).join("\n") + "\n");
  return list;
}

/** One line of a run's log.jsonl (the fields the tests read). */
export interface RunLogLine {
  step: number;
  loss: number;
  std_student: number;
  std_teacher: number;
  [key: string]: number;
}

/** The complete lines of a log.jsonl; none when it does not exist yet, a half-written last line skipped. */
export async function readRunLog(path: string): Promise<RunLogLine[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter((l) => l.trim()).flatMap((l) => {
    try {
      return [JSON.parse(l)];
    } catch {
      return [];
    }
  });
}

/**
 * Waits until `log` has reached step `step` (at most a minute), kills
 * `child` with SIGKILL, checks it died of it, and returns the last logged step.
 */
export async function killAfterStep(
  child: Deno.ChildProcess,
  log: string,
  step: number,
): Promise<number> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if ((await readRunLog(log)).some((l) => l.step >= step)) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill("SIGKILL");
  const status = await child.status;
  await child.stdout.cancel();
  await child.stderr.cancel();
  assert.equal(status.signal, "SIGKILL", "killed, not finished");
  return (await readRunLog(log)).at(-1)?.step ?? 0;
}
