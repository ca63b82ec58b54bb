// Parsing of `--fault KIND=VALUE`. Each kind has one meaning of VALUE (see FAULT_KINDS); the
// parsed plan is validated once and frozen, then handed to the fleet.

export const FAULT_KINDS = {
  disconnect: { value: 'probability per device per second', max: 1 },
  'kill-agent': { value: 'probability per device per second', max: 1 },
  duplicate: { value: 'probability per segment', max: 1 },
  reorder: { value: 'probability per segment', max: 1 },
  tamper: { value: 'probability per segment', max: 1 },
  replay: { value: 'probability per segment', max: 1 },
  'broker-restart': { value: 'period in seconds (embedded broker only)', max: Infinity },
  'clock-skew': { value: 'largest offset in seconds', max: Infinity },
  'kill-hub': { value: 'period in seconds: SIGKILL one hub of the cluster (--hubs 2 or more)', max: Infinity },
  'broker-node-down': { value: 'period in seconds: the broker node goes down for 2 s (--hubs only)', max: Infinity },
} as const;

export type FaultKind = keyof typeof FAULT_KINDS;
export type FaultPlan = Readonly<Partial<Record<FaultKind, number>>>;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseFaults(specs: readonly string[]): FaultPlan {
  const plan: Partial<Record<FaultKind, number>> = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const kind = (eq < 0 ? spec : spec.slice(0, eq)) as FaultKind;
    if (!(kind in FAULT_KINDS)) {
      throw new UsageError(`unknown fault '${kind}'; known: ${Object.keys(FAULT_KINDS).join(', ')}`);
    }
    const { value: meaning, max } = FAULT_KINDS[kind];
    if (eq < 0) throw new UsageError(`--fault ${kind} needs a value: ${kind}=<${meaning}>`);
    const raw = spec.slice(eq + 1);
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value) || value < 0 || value > max) {
      const range = max === 1 ? 'a number from 0 to 1' : 'a number >= 0';
      throw new UsageError(`--fault ${kind}=${raw}: expected ${range} (${meaning})`);
    }
    if (kind in plan) throw new UsageError(`--fault ${kind} given twice`);
    plan[kind] = value;
  }
  return Object.freeze(plan);
}

export function describeFaults(plan: FaultPlan): string {
  const parts = (Object.keys(plan) as FaultKind[]).map((k) => `${k}=${plan[k]}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}
