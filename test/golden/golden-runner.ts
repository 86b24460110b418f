// Runs the cases of a golden directory with the kinds registered in test/golden/kinds/ and checks every
// output. Cases run one at a time (memory stays bounded: tensors are dropped after each case; only
// outputs another case's `same_as` refers to are kept). `runGolden` runs everything; a GoldenSession
// runs cases one by one (golden.test.ts gives each its own node test).
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Tensor } from '../../app/tensor/tensor.ts';
import type { CaseContext, CaseKind, CaseOutput, ManifestCase } from './case-kind.ts';
import { checkOutput } from './check-output.ts';
import type { OutputResult, SameAsTarget } from './check-output.ts';
import { GoldenFiles, loadManifest } from './manifest.ts';
import { providerTolerance, type ProviderTolerance } from './provider-tolerance.ts';
import type { StoredFloat } from '../../app/onnx/graph.ts';
import type { SessionOptions } from '../../app/runtime/onnx-runtime.ts';
import type { GoldenManifest } from './manifest.ts';

export const DEFAULT_KINDS_DIR = fileURLToPath(new URL('./kinds/', import.meta.url));

export type CaseStatus = 'pass' | 'fail' | 'error' | 'unsupported' | 'skipped';

export interface CaseResult {
  readonly id: string;
  readonly kind: string;
  readonly status: CaseStatus;
  readonly outputs: readonly OutputResult[];
  /** The output with the largest error relative to its tolerance. */
  readonly worst?: OutputResult;
  /** Why the case errored, was unsupported or skipped. */
  readonly error?: string;
  readonly seconds: number;
}

export interface KindLoadError {
  readonly file: string;
  readonly message: string;
}

export interface GoldenReport {
  readonly dir: string;
  readonly schema: string;
  readonly cases: readonly CaseResult[];
  readonly counts: Readonly<Record<CaseStatus, number>>;
  /** Kinds of selected cases that no file in the kinds folder registers. */
  readonly unregisteredKinds: readonly string[];
  /** Kinds skipped on request (--skip-kind). */
  readonly skippedKinds: readonly string[];
  /** Kinds skipped because they cannot compute in the requested dtype (--precision). */
  readonly float32OnlyKinds: readonly string[];
  readonly loadErrors: readonly KindLoadError[];
  /** False when a case failed, errored or had no kind, a kinds file did not load, or no case was selected. */
  readonly ok: boolean;
}

export interface GoldenOptions {
  /** Use these kinds instead of discovering them (framework tests). */
  readonly kinds?: readonly CaseKind[];
  /** Where to discover kinds; default test/golden/kinds/. */
  readonly kindsDir?: string;
  /** Run only cases whose id contains one of these substrings. */
  readonly caseFilter?: readonly string[];
  /** Run only cases of these kinds. */
  readonly kindFilter?: readonly string[];
  /** Report cases of these kinds as skipped. */
  readonly skipKinds?: readonly string[];
  /** Called as each case finishes (the CLI prints its row). */
  readonly onCase?: (result: CaseResult) => void;
  /** Parent of the per-case scratch directories; default the OS temp dir. */
  readonly scratchRoot?: string;
  /** Options of every session the cases open; `backend` picks the execution provider (default cpu). */
  readonly session?: SessionOptions;
  /** The dtype the cases' graphs compute in (default float32); kinds that cannot are reported skipped. */
  readonly computeDtype?: StoredFloat;
}

/** Imports every `*.ts` file of `dir` (tests excluded) and collects their exported `kinds`. */
export async function discoverKinds(dir: string): Promise<{ kinds: ReadonlyMap<string, CaseKind>; errors: readonly KindLoadError[] }> {
  const kinds = new Map<string, CaseKind>();
  const owners = new Map<string, string>();
  const errors: KindLoadError[] = [];
  let files: string[];
  try {
    files = readdirSync(dir).filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')).sort();
  } catch {
    return { kinds, errors };
  }
  for (const name of files) {
    const file = join(dir, name);
    try {
      const module = (await import(pathToFileURL(file).href)) as { kinds?: unknown };
      if (!Array.isArray(module.kinds)) throw new Error('it does not export `kinds: CaseKind[]`');
      for (const kind of module.kinds as unknown[]) {
        const candidate = kind as Partial<CaseKind> | null;
        if (typeof candidate?.kind !== 'string' || typeof candidate.run !== 'function') {
          throw new Error('an element of `kinds` is not a CaseKind ({ kind: string, run() })');
        }
        const owner = owners.get(candidate.kind);
        if (owner) throw new Error(`kind '${candidate.kind}' is already registered by ${owner}`);
        owners.set(candidate.kind, name);
        kinds.set(candidate.kind, candidate as CaseKind);
      }
    } catch (error) {
      errors.push({ file, message: error instanceof Error ? error.message : String(error) });
    }
  }
  return { kinds, errors };
}

function referencedOutputs(cases: readonly ManifestCase[]): Set<string> {
  const keys = new Set<string>();
  for (const testCase of cases) {
    for (const entry of Object.values(testCase.outputs)) {
      if (entry.type === 'same_as') keys.add(outputKey(entry.case!, entry.output!));
    }
  }
  return keys;
}

function outputKey(caseId: string, output: string): string {
  return `${caseId}\u0000${output}`;
}

export class GoldenSession {
  /** The selected cases, in manifest order. */
  readonly cases: readonly ManifestCase[];
  private readonly files: GoldenFiles;
  private readonly results = new Map<string, Promise<CaseResult>>();
  private readonly finished: CaseResult[] = [];
  private readonly retained = new Map<string, CaseOutput>();
  private readonly referenced: Set<string>;
  private readonly byId: ReadonlyMap<string, ManifestCase>;
  private readonly precisionSkipped = new Set<string>();
  /** What the cases' graphs compute in (GoldenOptions.computeDtype). */
  private readonly computeDtype: StoredFloat;
  /** The provider's tolerance rule every output is checked with. */
  readonly tolerance: ProviderTolerance;

  constructor(
    readonly manifest: GoldenManifest,
    readonly kinds: ReadonlyMap<string, CaseKind>,
    readonly loadErrors: readonly KindLoadError[],
    private readonly options: GoldenOptions = {},
  ) {
    this.files = new GoldenFiles(manifest.dir);
    this.byId = new Map(manifest.cases.map((testCase) => [testCase.id, testCase]));
    this.referenced = referencedOutputs(manifest.cases);
    this.computeDtype = options.computeDtype ?? 'float32';
    this.tolerance = providerTolerance(options.session?.backend ?? 'cpu', this.computeDtype);
    const { caseFilter, kindFilter } = options;
    this.cases = manifest.cases.filter(
      (testCase) =>
        (!caseFilter?.length || caseFilter.some((part) => testCase.id.includes(part))) &&
        (!kindFilter?.length || kindFilter.includes(testCase.kind)),
    );
  }

  isSkipped(kind: string): boolean {
    return this.options.skipKinds?.includes(kind) ?? false;
  }

  isRegistered(kind: string): boolean {
    return this.kinds.has(kind);
  }

  /** Runs one case (once: later calls return the same result), after the cases its same_as refers to. */
  runCase(id: string): Promise<CaseResult> {
    let result = this.results.get(id);
    if (!result) {
      const testCase = this.byId.get(id);
      if (!testCase) return Promise.reject(new Error(`no case '${id}' in ${this.manifest.dir}`));
      result = this.execute(testCase);
      this.results.set(id, result);
    }
    return result;
  }

  /** Runs every selected case not run yet, in order, and summarises. */
  async runAll(): Promise<GoldenReport> {
    for (const testCase of this.cases) await this.runCase(testCase.id);
    return this.report();
  }

  report(): GoldenReport {
    const byId = new Map(this.finished.map((result) => [result.id, result]));
    const cases = this.cases.flatMap((testCase) => byId.get(testCase.id) ?? []);
    const counts: Record<CaseStatus, number> = { pass: 0, fail: 0, error: 0, unsupported: 0, skipped: 0 };
    for (const result of cases) counts[result.status]++;
    const kindsOf = (status: CaseStatus) => [...new Set(cases.filter((result) => result.status === status).map((result) => result.kind))];
    return {
      dir: this.manifest.dir,
      schema: this.manifest.schema,
      cases,
      counts,
      unregisteredKinds: kindsOf('unsupported'),
      skippedKinds: kindsOf('skipped').filter((kind) => !this.precisionSkipped.has(kind)),
      float32OnlyKinds: kindsOf('skipped').filter((kind) => this.precisionSkipped.has(kind)),
      loadErrors: this.loadErrors,
      ok: cases.length > 0 && counts.fail === 0 && counts.error === 0 && counts.unsupported === 0 && this.loadErrors.length === 0,
    };
  }

  close(): void {
    this.files.close();
    this.retained.clear();
  }

  private async execute(testCase: ManifestCase): Promise<CaseResult> {
    const started = performance.now();
    const done = (result: Omit<CaseResult, 'seconds' | 'id' | 'kind'>): CaseResult => {
      const full = { id: testCase.id, kind: testCase.kind, ...result, seconds: (performance.now() - started) / 1000 };
      this.finished.push(full);
      this.options.onCase?.(full);
      return full;
    };
    const kind = this.kinds.get(testCase.kind);
    if (this.isSkipped(testCase.kind)) return done({ status: 'skipped', outputs: [], error: `kind '${testCase.kind}' skipped on request` });
    if (!kind) return done({ status: 'unsupported', outputs: [], error: `no file in test/golden/kinds registers kind '${testCase.kind}'` });
    if (!(kind.computeDtypes ?? ['float32']).includes(this.computeDtype)) {
      this.precisionSkipped.add(testCase.kind);
      return done({ status: 'skipped', outputs: [], error: `kind '${testCase.kind}' computes in float32 only` });
    }

    // Cases whose outputs this one's same_as compares with run first (when selected and runnable).
    for (const entry of Object.values(testCase.outputs)) {
      if (entry.type !== 'same_as' || entry.case === testCase.id) continue;
      const other = this.byId.get(entry.case!);
      if (other && this.cases.includes(other) && this.kinds.has(other.kind) && !this.isSkipped(other.kind)) await this.runCase(other.id);
    }

    const scratch = mkdtempSync(join(this.options.scratchRoot ?? tmpdir(), 'afa-golden-'));
    try {
      const computed = await kind.run(testCase, this.context(testCase, scratch));
      if (typeof computed !== 'object' || computed === null) throw new Error(`kind '${testCase.kind}' returned ${String(computed)} instead of an object of outputs`);
      const outputs = Object.entries(testCase.outputs).map(([name, entry]) =>
        checkOutput(name, entry, computed[name], {
          files: this.files,
          computed,
          sameAs: (caseId, output) => this.sameAsTarget(caseId, output),
          tolerance: this.tolerance,
        }),
      );
      for (const [name, output] of Object.entries(computed)) {
        if (this.referenced.has(outputKey(testCase.id, name))) this.retained.set(outputKey(testCase.id, name), output);
      }
      const failed = outputs.some((output) => output.status === 'fail');
      return done({ status: failed ? 'fail' : 'pass', outputs, worst: worstOutput(outputs) });
    } catch (error) {
      return done({ status: 'error', outputs: [], error: describeError(error) });
    } finally {
      rmSync(scratch, { recursive: true, force: true });
      this.files.clearCache();
    }
  }

  private context(testCase: ManifestCase, scratch: string): CaseContext {
    const { cases: _cases, ...manifestFields } = this.manifest.fields;
    return {
      dir: this.manifest.dir,
      scratch,
      session: { ...this.options.session },
      computeDtype: this.computeDtype,
      manifest: manifestFields,
      resolve: (relativePath) => this.files.resolve(relativePath),
      readTensor: (entry) => this.files.readTensor(entry),
      readJson: (entry) => this.files.readJson(entry),
      readInput: (name): Tensor => {
        const entry = testCase.inputs?.[name];
        if (!entry) throw new Error(`case '${testCase.id}' has no input '${name}' (it has ${Object.keys(testCase.inputs ?? {}).join(', ') || 'none'})`);
        return this.files.readTensor(entry);
      },
    };
  }

  private sameAsTarget(caseId: string, output: string): SameAsTarget {
    const retained = this.retained.get(outputKey(caseId, output));
    if (retained) return { computed: retained };
    const other = this.byId.get(caseId);
    const golden = other?.outputs[output];
    if (!other || !golden) return { missing: `the manifest has no output '${output}' of case '${caseId}'` };
    if (golden.type !== 'tensor') return { missing: `'${caseId}' output '${output}' is not a tensor` };
    const ran = this.finished.find((result) => result.id === caseId);
    const reason = ran ? `'${caseId}' did not produce it (${ran.status})` : `'${caseId}' was not run`;
    return { golden, reason };
  }
}

function worstOutput(outputs: readonly OutputResult[]): OutputResult | undefined {
  let worst: OutputResult | undefined;
  for (const output of outputs) {
    if (output.status === 'info' || output.ratio === undefined) continue;
    if (!worst || output.ratio > worst.ratio!) worst = output;
  }
  return worst;
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const frames = (error.stack ?? '').split('\n').filter((line) => line.trimStart().startsWith('at ')).slice(0, 4);
  return [`${error.name}: ${error.message}`, ...frames.map((frame) => `  ${frame.trim()}`)].join('\n');
}

/** Loads the manifest and the kinds; the caller runs cases and closes the session. */
export async function openGoldenSession(dir: string, options: GoldenOptions = {}): Promise<GoldenSession> {
  const manifest = loadManifest(dir);
  const discovered = options.kinds
    ? { kinds: new Map(options.kinds.map((kind) => [kind.kind, kind])), errors: [] }
    : await discoverKinds(options.kindsDir ?? DEFAULT_KINDS_DIR);
  return new GoldenSession(manifest, discovered.kinds, discovered.errors, options);
}

/** Runs every selected case of `dir` and returns the report. */
export async function runGolden(dir: string, options: GoldenOptions = {}): Promise<GoldenReport> {
  const session = await openGoldenSession(dir, options);
  try {
    return await session.runAll();
  } finally {
    session.close();
  }
}
