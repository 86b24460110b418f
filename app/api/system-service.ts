// What the UI needs to know about the machine and the build.
import { availableParallelism, platform } from 'node:os';
import type { SystemApi, SystemInfo } from './contract.ts';
import { Emitter } from '../common/emitter.ts';

export class SystemService implements SystemApi {
  readonly #info: SystemInfo;
  /** Fired by the desktop shell's engine host, never by the services themselves. */
  readonly engineRestarted = new Emitter<{ readonly reason: string }>();
  readonly onDidEngineRestart = this.engineRestarted.event;

  constructor(config: { readonly version: string; readonly home: string }) {
    this.#info = Object.freeze({ version: config.version, dataDirectory: config.home, platform: platform(), cpuCount: availableParallelism() });
  }

  async info(): Promise<SystemInfo> {
    return this.#info;
  }
}
