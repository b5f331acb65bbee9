/**
 * Running test programs under Open MPI's `mpirun` (Debian `openmpi-bin`,
 * installed by tools/setup.ts). Tests that need it are ignored, visibly,
 * when it is missing.
 *
 * @module
 */

/** Whether `mpirun` and `libmpi.so.40` are usable here. */
export const HAVE_MPI: boolean = (() => {
  try {
    const lib = Deno.dlopen("libmpi.so.40", {});
    lib.close();
    return new Deno.Command("mpirun", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

/** Environment of an mpirun job: allowed as root, yielding cores while waiting (2 shared cores here). */
export const MPI_ENV: Record<string, string> = {
  NO_COLOR: "1",
  OMPI_ALLOW_RUN_AS_ROOT: "1",
  OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1",
  OMPI_MCA_mpi_yield_when_idle: "1",
};

/**
 * `mpirun` running each of `ranks` (one argument list per rank, after the
 * deno binary) as one rank of a job: `-q` keeps mpirun's own banners off
 * stderr, `--oversubscribe` allows more ranks than cores.
 */
export function mpirun(ranks: string[][], opts: { cwd?: string } = {}): Deno.Command {
  const args = ["-q", "--oversubscribe"];
  ranks.forEach((r, i) => args.push(...(i ? [":"] : []), "-np", "1", Deno.execPath(), ...r));
  return new Deno.Command("mpirun", {
    args,
    cwd: opts.cwd,
    env: MPI_ENV,
    stdout: "piped",
    stderr: "piped",
  });
}

/** The PIDs of the ranks a running `mpirun` started, by rank (from their environment). */
export function rankPids(mpirunPid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const task of Deno.readDirSync(`/proc/${mpirunPid}/task`)) {
    const children = Deno.readTextFileSync(`/proc/${mpirunPid}/task/${task.name}/children`);
    for (const pid of children.trim().split(/\s+/).filter(Boolean).map(Number)) {
      const env = Deno.readTextFileSync(`/proc/${pid}/environ`).split("\0");
      const rank = env.find((e) => e.startsWith("OMPI_COMM_WORLD_RANK="));
      if (rank) out.set(Number(rank.split("=")[1]), pid);
    }
  }
  return out;
}
