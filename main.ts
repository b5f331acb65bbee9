/**
 * `atst`: the ATST audio representation learning suite.
 *
 * Dispatches to `commands/<name>.ts` (imported lazily so `atst featurize`
 * never loads the model code) and turns errors into one line on stderr plus
 * an exit code (see `lib/errors.ts`).
 *
 * @module
 */
import denoJson from "./deno.json" with { type: "json" };
import { exitWith } from "./lib/errors.ts";
import { reportPeakMemory } from "./lib/io/peak_memory.ts";

/** The CLI version, from deno.json. */
export const VERSION: string = denoJson.version;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  featurize: {
    summary: "audio files -> ATST log-mel features (.npy or JSON Lines)",
    load: () => import("./commands/featurize.ts"),
  },
  pretrain: {
    summary: "teacher-student self-supervised training on unlabeled audio",
    load: () => import("./commands/pretrain.ts"),
  },
  embed: {
    summary: "audio -> clip or frame embeddings (.npy, JSON Lines, CSV)",
    load: () => import("./commands/embed.ts"),
  },
  probe: {
    summary: "linear evaluation of embeddings on a labeled set",
    load: () => import("./commands/probe.ts"),
  },
};

interface Command {
  run(args: string[]): Promise<number>;
}

const HELP = `atst ${VERSION}: ATST audio representation learning (Li & Li, Interspeech 2022)

Usage: atst <command> [flags]
       atst --backends     list compute backends usable on this machine
       atst --version

Commands:
${Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(10)} ${c.summary}`).join("\n")}

Run 'atst <command> --help' for the flags of one command.
Exit codes: 0 ok (also when a reader of stdout such as 'head' stops early), 1 some inputs
failed, 2 usage or configuration error, 3 internal error.`;

/** Runs the CLI on `args` and returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(HELP);
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-V") {
    console.log(`atst ${VERSION}`);
    return 0;
  }
  if (name === "--backends") {
    const { listBackends } = await import("./lib/backend/backend.ts");
    for (const line of await listBackends()) console.log(line);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(
      `atst: unknown command '${name}' (expected one of ${Object.keys(COMMANDS).join(", ")})`,
    );
    return 2;
  }
  return (await command.load()).run(rest);
}

if (import.meta.main) {
  await exitWith("atst", () =>
    main(Deno.args).catch((err) => {
      // The reader of our stdout went away (`atst embed ... | head`): its choice, not a failure.
      if (err instanceof Deno.errors.BrokenPipe) return 0;
      throw err;
    }).finally(reportPeakMemory));
}
