// Studio settings (data directory, execution provider, threads, previews) kept in one JSON file.
// The desktop shell keeps that file outside the data directory (Electron userData), so moving the data
// directory is a setting; web mode keeps it inside the home and the home is chosen on the command line.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../common/atomic-write.ts';
import { ApiError } from './api-error.ts';
import type { BackendInfo, BackendName, BackendSetting, Settings, SettingsApi } from './contract.ts';
import { Emitter } from '../common/emitter.ts';
import { backendNames } from './validate.ts';

export interface SettingsServiceConfig {
  /** The JSON file; created on the first change. */
  readonly file: string;
  /** The studio home in use now (the data directory the services were started on). */
  readonly home: string;
  /** True in web mode: the home comes from `--home`/AFA_STUDIO_HOME and cannot be changed from the UI. */
  readonly dataDirectoryFixed: boolean;
  /** The execution providers of this machine (app/runtime/onnx-runtime.ts listBackends). */
  readonly listBackends: () => Promise<readonly { backend: BackendName; available: boolean; reason?: string }[]>;
}

const labels: Readonly<Record<BackendName, string>> = {
  cpu: 'CPU',
  webgpu: 'WebGPU',
  cuda: 'NVIDIA CUDA',
  dml: 'DirectML (Windows GPU)',
  coreml: 'Core ML (Apple)',
};

export class SettingsService implements SettingsApi {
  readonly #config: SettingsServiceConfig;
  #settings: Settings;
  readonly #changed = new Emitter<Settings>();
  /** Fires after every change, for services that follow the settings (the generation engine). */
  readonly onDidChangeSettings = this.#changed.event;

  constructor(config: SettingsServiceConfig) {
    this.#config = Object.freeze({ ...config });
    this.#settings = { ...this.defaults(), ...this.readFile(), dataDirectory: config.home };
  }

  /** The settings in effect now (synchronous, for other services). */
  get current(): Settings {
    return this.#settings;
  }

  async get(): Promise<Settings> {
    return this.#settings;
  }

  async set(request: Partial<Settings>): Promise<{ settings: Settings; restartRequired: boolean }> {
    let restartRequired = false;
    if (request.dataDirectory !== undefined && request.dataDirectory !== this.#config.home) {
      if (this.#config.dataDirectoryFixed) {
        throw new ApiError('unsupported', 'In web mode the data directory is chosen when the server starts.', 'Restart with `afa serve --home <folder>` (or set AFA_STUDIO_HOME).');
      }
      restartRequired = true;
    }
    if (request.backend !== undefined && request.backend !== 'auto') {
      const info = (await this.listBackends()).find((b) => b.backend === request.backend);
      if (!info?.available) {
        throw new ApiError('unsupported', `${labels[request.backend]} cannot be used on this machine: ${info?.reason ?? 'unknown provider'}`, 'Pick one of the available execution providers.');
      }
    }
    const stored = { ...this.readFile(), ...request };
    mkdirSync(dirname(this.#config.file), { recursive: true });
    writeFileAtomic(this.#config.file, new TextEncoder().encode(`${JSON.stringify(stored, null, 2)}\n`));
    // The data directory in effect stays the one the services run on until the restart.
    this.#settings = { ...this.#settings, ...request, dataDirectory: this.#config.home };
    this.#changed.fire(this.#settings);
    return { settings: restartRequired ? { ...this.#settings, dataDirectory: request.dataDirectory! } : this.#settings, restartRequired };
  }

  async listBackends(): Promise<BackendInfo[]> {
    return (await this.#config.listBackends()).map((info) => ({ ...info, label: labels[info.backend] }));
  }

  private defaults(): Settings {
    return { dataDirectory: this.#config.home, backend: 'auto', threads: 0, previews: true, precision: 'auto' };
  }

  /** The stored settings; fields that are no longer valid (a provider that went away) are dropped. */
  private readFile(): Partial<Settings> {
    if (!existsSync(this.#config.file)) return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.#config.file, 'utf8'));
    } catch {
      return {};
    }
    if (typeof parsed !== 'object' || parsed === null) return {};
    const raw = parsed as Record<string, unknown>;
    const result: { -readonly [K in keyof Settings]?: Settings[K] } = {};
    if (typeof raw.dataDirectory === 'string') result.dataDirectory = raw.dataDirectory;
    if (raw.backend === 'auto' || (backendNames as readonly unknown[]).includes(raw.backend)) result.backend = raw.backend as BackendSetting;
    if (typeof raw.threads === 'number' && Number.isInteger(raw.threads) && raw.threads >= 0) result.threads = raw.threads;
    if (typeof raw.previews === 'boolean') result.previews = raw.previews;
    if (raw.precision === 'auto' || raw.precision === 'fp32' || raw.precision === 'fp16') result.precision = raw.precision;
    return result;
  }
}

/** The data directory a settings file names, for the shell to start the services on (undefined: default). */
export function storedDataDirectory(file: string): string | undefined {
  try {
    const raw = JSON.parse(readFileSync(file, 'utf8')) as { dataDirectory?: unknown };
    return typeof raw.dataDirectory === 'string' && raw.dataDirectory ? raw.dataDirectory : undefined;
  } catch {
    return undefined;
  }
}
