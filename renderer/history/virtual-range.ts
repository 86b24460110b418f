// Which rows of a grid are on screen (plus some overscan), so a history of 100,000 images renders a few
// dozen cells. Pure arithmetic, kept apart from React so it can be tested.

export interface GridLayout {
  /** Cells per row, ≥ 1. */
  readonly columns: number;
  /** Pixel size of a square cell and the gap between cells. */
  readonly cellSize: number;
  readonly gap: number;
}

export interface VisibleRange {
  /** First and last item index to render (inclusive); last < first when there is nothing to render. */
  readonly firstIndex: number;
  readonly lastIndex: number;
  /** Height of the whole grid in pixels (for the scrollbar). */
  readonly totalHeight: number;
}

/** Columns and cell size that fill `width` with cells of at least `minCellSize` pixels. */
export function gridLayout(width: number, minCellSize: number, gap: number): GridLayout {
  const columns = Math.max(1, Math.floor((width + gap) / (minCellSize + gap)));
  const cellSize = Math.max(1, (width - gap * (columns - 1)) / columns);
  return { columns, cellSize, gap };
}

export function visibleRange(layout: GridLayout, itemCount: number, scrollTop: number, viewportHeight: number, overscanRows = 2): VisibleRange {
  const rowHeight = layout.cellSize + layout.gap;
  const rows = Math.ceil(itemCount / layout.columns);
  const totalHeight = rows === 0 ? 0 : rows * rowHeight - layout.gap;
  if (rows === 0) return { firstIndex: 0, lastIndex: -1, totalHeight };
  const firstRow = Math.max(0, Math.floor(scrollTop / rowHeight) - overscanRows);
  const lastRow = Math.min(rows - 1, Math.floor((scrollTop + Math.max(0, viewportHeight)) / rowHeight) + overscanRows);
  return { firstIndex: firstRow * layout.columns, lastIndex: Math.min(itemCount - 1, (lastRow + 1) * layout.columns - 1), totalHeight };
}

/** Top-left pixel position of item `index`. */
export function cellPosition(layout: GridLayout, index: number): { top: number; left: number } {
  const row = Math.floor(index / layout.columns);
  const column = index % layout.columns;
  return { top: row * (layout.cellSize + layout.gap), left: column * (layout.cellSize + layout.gap) };
}
