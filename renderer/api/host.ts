// What differs between the desktop window and a browser tab, beyond the API calls themselves.
import type { ImageRef, ImportSource, Unsubscribe } from '../../app/api/contract.ts';

/** Whether the UI reaches the studio server (web mode; the desktop window is always connected). */
export interface Connection {
  readonly connected: boolean;
  /** Reconnection attempts since the connection was lost (0 while connected). */
  readonly attempts: number;
  onDidChange(listener: () => void): Unsubscribe;
  /**
   * After the connection was lost and is back: events sent meanwhile were missed, so whatever the page
   * shows from the server must be read again.
   */
  onDidReconnect(listener: () => void): Unsubscribe;
}

export interface Host {
  readonly kind: 'desktop' | 'web';
  /** URL of a studio image for <img src>. */
  imageUrl(image: ImageRef): string;
  /** URL that downloads the image (web mode), or undefined where exporting to a folder is offered instead. */
  downloadUrl(image: ImageRef): string | undefined;
  /** Makes a picked or dropped file importable: its path on the desktop, an upload in web mode. */
  sourceForFile(file: File, onProgress: (sentBytes: number, totalBytes: number) => void): Promise<ImportSource>;
  /** Web mode: the server connection, for the "server disconnected" banner. */
  readonly connection?: Connection;
  /** Native folder picker (desktop only). */
  pickDirectory?(): Promise<string | null>;
}
