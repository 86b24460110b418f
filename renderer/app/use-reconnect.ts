// Web mode: events the server sent while the page was disconnected are lost, so everything the page
// shows from the server is read again once the connection is back (Connection.onDidReconnect). The
// desktop window is never disconnected, and there this does nothing.
import { useEffect, useRef } from 'react';
import { useStudio } from './studio-context.tsx';

export function useOnReconnect(callback: () => void): void {
  const { host } = useStudio();
  const latest = useRef(callback);
  latest.current = callback;
  useEffect(() => host.connection?.onDidReconnect(() => latest.current()), [host]);
}
