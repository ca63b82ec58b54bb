// The file-descriptor limit (RLIMIT_NOFILE). Every device is a socket in the hub, and one in the
// simulator's fleet, so the limit caps the fleet a process can hold: past it the kernel refuses
// accept() and connect() with EMFILE.
//
// Raising the soft limit to the hard one needs no code here: Node does it itself as it starts
// (PlatformInit in src/node.cc, on every POSIX platform; on macOS up to OPEN_MAX). Node has no
// setrlimit, so should a process still find its soft limit below the hard one, it asks util-linux's
// prlimit(1) to raise it through the prlimit(2) system call on its own pid: no second process, no
// re-exec, no native addon. The hard limit is the operator's: only a privileged process raises it
// (LimitNOFILE= in a systemd unit, `ulimit -Hn` or `prlimit --nofile` as root). So the commands
// read both limits at start and log them, and say what to do when the hard one is too low.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface NofileLimit {
  /** Infinity when unlimited. */
  soft: number;
  hard: number;
}

/** The limits of a process (this one by default), or undefined where /proc is not there. */
export function readNofileLimit(pid: number | 'self' = 'self'): NofileLimit | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/limits`, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m) return undefined;
  const value = (s: string) => (s === 'unlimited' ? Infinity : Number(s));
  return { soft: value(m[1]!), hard: value(m[2]!) };
}

export interface NofileOutcome {
  limit: NofileLimit | undefined;
  /** The soft limit before this process raised it, if it had to. */
  raisedFrom?: number;
  /** Why the soft limit could not be raised, if it could not. */
  problem?: string;
}

/** Makes the soft limit of a process (this one by default) its hard limit, if it is not already. */
export function raiseNofileLimit(pid: number = process.pid): NofileOutcome {
  const before = readNofileLimit(pid === process.pid ? 'self' : pid);
  if (before === undefined) return { limit: undefined, problem: 'the limit is unknown on this platform' };
  if (before.soft >= before.hard) return { limit: before };
  const hard = before.hard === Infinity ? 'unlimited' : `${before.hard}`;
  try {
    execFileSync('prlimit', ['--pid', `${pid}`, `--nofile=${hard}:${hard}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    const why =
      e.code === 'ENOENT' ? 'prlimit (util-linux) is not installed' : (e.stderr?.toString().trim() ?? e.message);
    return { limit: before, problem: `could not raise the soft limit: ${why}` };
  }
  return { limit: readNofileLimit(pid === process.pid ? 'self' : pid), raisedFrom: before.soft };
}

const fmt = (n: number) => (n === Infinity ? 'unlimited' : `${n}`);

/** One line for the start-up log; `needed` is how many descriptors the process expects to hold. */
export function describeNofile(o: NofileOutcome, needed?: number): { level: 'info' | 'warn'; message: string } {
  const l = o.limit;
  if (l === undefined) return { level: 'info', message: `file descriptors: ${o.problem ?? 'limit unknown'}` };
  const raised = o.raisedFrom === undefined ? '' : ` (soft limit raised from ${fmt(o.raisedFrom)})`;
  const base = `file descriptors: soft limit ${fmt(l.soft)}, hard limit ${fmt(l.hard)}${raised}`;
  if (o.problem) return { level: 'warn', message: `${base}; ${o.problem}` };
  if (needed !== undefined && l.soft < needed)
    return {
      level: 'warn',
      message:
        `${base}; about ${needed} are needed, so connections past the limit will be refused (EMFILE). ` +
        'Raise the hard limit: LimitNOFILE= in the systemd unit, or `ulimit -Hn` / `prlimit --nofile` as root',
    };
  return { level: 'info', message: base };
}
