// A virtualized grid of square cells: only the rows on screen (and a little overscan) exist in the DOM.
// `total` may exceed the loaded items; `onVisible` asks for the rest as the person scrolls.
import { useEffect, useLayoutEffect, useRef, useState, type ReactNode } from 'react';
import { cellPosition, gridLayout, visibleRange } from './virtual-range.ts';

interface Props<T> {
  readonly items: readonly T[];
  readonly total: number;
  readonly minCellSize: number;
  readonly gap?: number;
  readonly label: string;
  readonly keyOf: (item: T) => string;
  readonly renderCell: (item: T | undefined, index: number, size: number) => ReactNode;
  readonly onVisible?: (firstIndex: number, lastIndex: number) => void;
}

export function VirtualGrid<T>({ items, total, minCellSize, gap = 8, label, keyOf, renderCell, onVisible }: Props<T>) {
  const scroller = useRef<HTMLDivElement>(null);
  const [size, setSize] = useState({ width: 0, height: 0 });
  const [scrollTop, setScrollTop] = useState(0);

  useLayoutEffect(() => {
    const element = scroller.current!;
    const measure = () => setSize({ width: element.clientWidth, height: element.clientHeight });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  const layout = gridLayout(Math.max(size.width, minCellSize), minCellSize, gap);
  const range = visibleRange(layout, total, scrollTop, size.height);

  useEffect(() => {
    if (range.lastIndex >= range.firstIndex) onVisible?.(range.firstIndex, range.lastIndex);
  }, [range.firstIndex, range.lastIndex, onVisible]);

  const cells: ReactNode[] = [];
  for (let index = range.firstIndex; index <= range.lastIndex; index++) {
    const item = items[index];
    const { top, left } = cellPosition(layout, index);
    cells.push(
      <div
        key={item === undefined ? `placeholder-${index}` : keyOf(item)}
        role="listitem"
        className="absolute"
        style={{ width: layout.cellSize, height: layout.cellSize, transform: `translate(${left}px, ${top}px)` }}
      >
        {renderCell(item, index, layout.cellSize)}
      </div>,
    );
  }

  return (
    <div ref={scroller} className="h-full min-h-0 overflow-y-auto" onScroll={(event) => setScrollTop(event.currentTarget.scrollTop)}>
      <div role="list" aria-label={label} aria-rowcount={Math.ceil(total / layout.columns)} className="relative" style={{ height: range.totalHeight }}>
        {cells}
      </div>
    </div>
  );
}
