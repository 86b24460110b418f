// What the benchmarks that measure in child processes share: peak memory of this process, the machine's
// busy CPU time (to flag contention), and running a child that answers with one marked JSON line.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Peak resident set of this process in bytes (VmHWM; maxRSS where /proc is missing). */
export function peakRssBytes(): number {
  try {
    const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((text) => text.startsWith('VmHWM:'));
    if (line) return Number(line.replace(/\D+/g, '')) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

/** Busy CPU seconds of the whole machine so far (all cores, /proc/stat; undefined where it is missing). */
export function machineBusySeconds(): number | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal …: everything but idle and iowait, in 1/100 s.
    return fields.reduce((sum, value, index) => (index === 3 || index === 4 ? sum : sum + value), 0) / 100;
  } catch {
    return undefined;
  }
}

/** Runs `script` with `args` in a child Node process and parses the stdout line that starts with `marker`. */
export function runChild<T>(script: string, marker: string, args: readonly string[]): T {
  const result = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = result.stdout.split('\n').find((text) => text.startsWith(marker));
  if (result.status !== 0 || !line) throw new Error(`the benchmark child ${args.join(' ')} failed (status ${result.status}, signal ${result.signal}): ${result.stdout.slice(-2000)}`);
  return JSON.parse(line.slice(marker.length)) as T;
}
