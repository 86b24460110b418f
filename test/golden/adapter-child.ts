// The child process of the tests that run WebGPU work (golden-webgpu, device-resident, webgpu-training):
// the Vulkan loader reads its driver and library path once at process start, so the work runs in a
// `node --import tsx <script>` child spawned with the environment software-adapter.ts gives (or with the
// one the script sets up itself), under a deadline: a provider that cannot start or hangs fails the test
// with the child's own output instead of hanging the suite.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/**
 * SwiftShader compiles every WebGPU kernel with LLVM and runs it on the CPU: the golden WebGPU subset took
 * 9 min on 2 cores shared with other work (load ≈ 11), most of it the pipeline (10 steps + VAE decode at
 * 128²) and the 3-expert AFA forward. The deadline bounds a slower machine; a provider that cannot start
 * fails at once.
 */
export const SOFTWARE_ADAPTER_DEADLINE_MS = 20 * 60 * 1000;

export interface ChildRun {
  /** The exit status; null when the child was killed (at the deadline, or by a signal). */
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Its standard output alone (where the children print their one-line JSON reports). */
  readonly stdout: string;
  /** Standard output and error interleaved as they came (for failure messages). */
  readonly output: string;
  /** The deadline passed and the child was killed. */
  readonly timedOut: boolean;
}

/**
 * Runs `node --import tsx <script> ...args` in the repository root with `env` and collects its output;
 * kills it (SIGKILL) when `deadlineMs` passes. `script` is a path or a file URL.
 */
export function runAdapterChild(script: string | URL, args: readonly string[], options: { readonly env: NodeJS.ProcessEnv; readonly deadlineMs: number }): Promise<ChildRun> {
  const path = script instanceof URL ? fileURLToPath(script) : script;
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path, ...args], { cwd: repoRoot, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.deadlineMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      fail(error);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      done({ status, signal, stdout, output, timedOut });
    });
  });
}

/** The last `lines` lines of a child's output without onnxruntime's warnings, for a failure message. */
export function outputTail(run: ChildRun, lines: number): string {
  return run.output
    .split('\n')
    .filter((line) => !line.includes('[W:onnxruntime'))
    .slice(-lines)
    .join('\n');
}

/** The JSON after `marker` on the first stdout line that starts with it, or undefined when no line does. */
export function markedReport<T>(run: ChildRun, marker: string): T | undefined {
  const line = run.stdout.split('\n').find((text) => text.startsWith(marker));
  return line === undefined ? undefined : (JSON.parse(line.slice(marker.length)) as T);
}
