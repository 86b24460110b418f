// The engine's events: `engine.onDidProgress(listener)` returns the function that unsubscribes — the same
// shape as the API contract's `ApiEvent`, so a service can hand the member straight through. A listener
// that throws is reported and does not stop the others (nor the job that fired the event).

export type Subscribe<T> = (listener: (payload: T) => void) => () => void;

export class ListenerSet<T> {
  readonly #listeners = new Set<(payload: T) => void>();

  constructor(private readonly onListenerError: (error: unknown) => void = (error) => console.error(error)) {}

  readonly subscribe: Subscribe<T> = (listener) => {
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
}
