/** What every section gets from the runner. */

/** Pinning, limits and progress output shared by the sections of one run. */
export interface RunContext {
  /** Core for servers under test (undefined: not pinned). */
  serverCore: number | undefined;
  /** Core for load generators (undefined: not pinned). */
  loadCore: number | undefined;
  /** Soft open-file limit to give children that hold many sockets (undefined: inherit). */
  fdLimit: number | undefined;
  /** Systems to run with `--cpu-prof` (by id, e.g. `cello`). */
  profileSystems: Set<string>;
  /** Node flags that write CPU profiles into the folder `name` inside the profile folder. */
  cpuProfFlags(name: string): string[];
  /** Print one progress line. */
  log(line: string): void;
}
