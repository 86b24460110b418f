// An image in a box of fixed aspect ratio: the layout is settled before the image loads, so nothing jumps.
import type { ReactNode } from 'react';

/**
 * `pixelated` (default) shows an enlarged image's real pixels; a step preview (latent resolution, 1/8 of the
 * image) reads better smoothed, as the blurry image it stands for.
 */
export function ImageBox({ src, alt, width, height, className = '', pixelated = true, children }: { src: string | undefined; alt: string; width: number; height: number; className?: string; pixelated?: boolean; children?: ReactNode }) {
  return (
    <div className={`relative overflow-hidden rounded-md bg-zinc-900 ring-1 ring-zinc-800 ${className}`} style={{ aspectRatio: `${width} / ${height}` }}>
      {src ? <img src={src} alt={alt} width={width} height={height} decoding="async" className={`absolute inset-0 h-full w-full object-contain ${pixelated ? '[image-rendering:pixelated]' : ''}`} /> : null}
      {children}
    </div>
  );
}
