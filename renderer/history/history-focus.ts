// What the History screen is showing and has selected, remembered when the person leaves it: the Train
// screen offers it as a dataset ("From history": the current search, or the selected images).
// Kept for the page's life (not stored): a search is worth reusing right after it was made.

export interface HistoryFocus {
  /** The search words (trimmed; '' for none). */
  readonly text: string;
  readonly favouritesOnly: boolean;
  /** Selected generations, in the order they were picked. */
  readonly selectedIds: readonly string[];
}

let focus: HistoryFocus = { text: '', favouritesOnly: false, selectedIds: [] };

export function rememberHistoryFocus(next: HistoryFocus): void {
  focus = next;
}

export function historyFocus(): HistoryFocus {
  return focus;
}
