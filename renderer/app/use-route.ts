// The screen in the URL hash (#/generate, #/models, #/history, #/history/<id>, #/train, #/settings), so reloads,
// links and the screenshot script land on the same screen.
import { useCallback, useEffect, useState } from 'react';

export type Screen = 'generate' | 'models' | 'history' | 'train' | 'settings';

export interface Route {
  readonly screen: Screen;
  /** History: the generation open in the detail view. */
  readonly id: string | null;
}

const screens: readonly Screen[] = ['generate', 'models', 'history', 'train', 'settings'];

export function parseRoute(hash: string): Route {
  const [screen, id] = hash.replace(/^#\/?/, '').split('/');
  return screens.includes(screen as Screen) ? { screen: screen as Screen, id: id ? decodeURIComponent(id) : null } : { screen: 'generate', id: null };
}

export function routeHash(route: Route): string {
  return `#/${route.screen}${route.id ? `/${encodeURIComponent(route.id)}` : ''}`;
}

export function useRoute(): [Route, (route: Route) => void] {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  const navigate = useCallback((next: Route) => {
    window.location.hash = routeHash(next);
  }, []);
  return [route, navigate];
}
