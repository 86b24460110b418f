// What differs between the desktop window and a browser tab, beyond the API calls themselves.
import type { ImageRef, ImportSource } from '../../app/api/contract.ts';

export interface Host {
  readonly kind: 'desktop' | 'web';
  /** URL of a studio image for <img src>. */
  imageUrl(image: ImageRef): string;
  /** URL that downloads the image (web mode), or undefined where exporting to a folder is offered instead. */
  downloadUrl(image: ImageRef): string | undefined;
  /** Makes a picked or dropped file importable: its path on the desktop, an upload in web mode. */
  sourceForFile(file: File, onProgress: (sentBytes: number, totalBytes: number) => void): Promise<ImportSource>;
  /** Native folder picker (desktop only). */
  pickDirectory?(): Promise<string | null>;
}
