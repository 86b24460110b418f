// A minimal typed event source for services: `event` is what the contract's `onDidX` members expose.
// A listener that throws does not stop the others (it is reported through `onListenerError`).
import type { ApiEvent, Listener } from './contract.ts';

export class Emitter<T> {
  readonly #listeners = new Set<Listener<T>>();

  constructor(private readonly onListenerError: (error: unknown) => void = (error) => console.error(error)) {}

  readonly event: ApiEvent<T> = (listener) => {
    // Wrap, so the same function subscribed twice is two subscriptions.
    const entry: Listener<T> = (payload) => listener(payload);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  };

  fire(payload: T): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(payload);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }
}
