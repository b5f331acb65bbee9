/**
 * Error types whose message is shown to the user as one line, without a
 * stack trace. Library code throws them; `main.ts` maps them to exit codes.
 *
 * Exit codes scripts can rely on:
 * - 0: everything succeeded
 * - 1: the job ran, but some inputs failed (each named on stderr)
 * - 2: usage error, bad configuration, bad checkpoint or bad labeled set:
 *      nothing was done
 * - 3: an internal error (a bug: the stack trace is printed)
 *
 * @module
 */

/**
 * A fatal problem with what the user gave us: a bad flag or combination of
 * flags, a corrupt checkpoint, an unusable labeled set, a non-finite loss.
 * Exit code 2 unless given.
 */
export class UserError extends Error {
  override name = "UserError";
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.exitCode = exitCode;
  }
}

/**
 * One input of a batch failed (corrupt audio, missing file). Commands catch
 * it, report one line naming the file and go on with the rest; the run then
 * ends with exit code 1.
 */
export class InputError extends Error {
  override name = "InputError";
  readonly exitCode = 1;
  constructor(readonly path: string, readonly reason: string) {
    super(`Cannot read '${path}': ${reason}`);
  }
}

/** Exit code for an error: its own for ours, 3 (a bug) for anything else. */
export function exitCodeOf(err: unknown): number {
  return isUserFacing(err) ? err.exitCode : 3;
}

/** True for errors whose message alone is what the user should see. */
export function isUserFacing(err: unknown): err is UserError | InputError {
  return err instanceof UserError || err instanceof InputError;
}

/**
 * Runs an entry point's `main` and exits with its code; an error becomes one
 * line on stderr prefixed with `label` (a stack trace only for a bug) and its
 * exit code. The one top-level handler of `main.ts` and the tools' scripts.
 *
 * @example
 * ```ts
 * if (import.meta.main) await exitWith("demo", () => main(Deno.args));
 * ```
 */
export async function exitWith(label: string, main: () => Promise<number>): Promise<never> {
  let code: number;
  try {
    code = await main();
  } catch (err) {
    if (isUserFacing(err)) console.error(`${label}: ${err.message}`);
    else console.error(`${label}: internal error:`, err);
    code = exitCodeOf(err);
  }
  Deno.exit(code);
}
