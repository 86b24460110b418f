// A minimal typed event source: `emitter.event(listener)` subscribes and returns the function that
// unsubscribes — the shape of the API contract's `onDidX` members, so services hand `event` straight
// through. A listener that throws is reported and does not stop the others (nor the job that fired it).

export type Subscribe<T> = (listener: (payload: T) => void) => () => void;

export class Emitter<T> {
  readonly #listeners = new Set<(payload: T) => void>();

  constructor(private readonly onListenerError: (error: unknown) => void = (error) => console.error(error)) {}

  readonly event: Subscribe<T> = (listener) => {
    // Wrapped, so one function subscribed twice is two subscriptions.
    const entry = (payload: T) => listener(payload);
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
