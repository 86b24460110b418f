// JSON-valued columns: written with JSON.stringify, read back with a fallback so one bad value shows
// up as a default in one row instead of failing a whole page.
export function parseJsonColumn<T>(text: string | null, fallback: T): T {
  if (text === null) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

export function jsonColumn(value: unknown): string {
  return JSON.stringify(value);
}
