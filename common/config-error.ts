// One shape for a configuration that cannot be used, in every command (tally-agent, tally-hub,
// tally-sim): every problem found, not only the first, under one code. The CLIs print the list
// and exit with 2, the usage-error status.

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** Collects problems while a config is checked, then throws them all at once (or returns). */
export class ProblemList {
  readonly problems: string[] = [];

  add(problem: string): void {
    this.problems.push(problem);
  }

  /** Runs a parser that throws ConfigError; its problems are kept and `fallback` is returned. */
  attempt<T>(parse: () => T, fallback: T): T {
    try {
      return parse();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.problems.push(...err.problems);
      return fallback;
    }
  }

  throwIfAny(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }
}
