// The API client and host for every component, without threading them through props.
import { createContext, useContext, type ReactNode } from 'react';
import type { StudioApi } from '../../app/api/contract.ts';
import type { Host } from '../api/host.ts';

interface Studio {
  readonly api: StudioApi;
  readonly host: Host;
}

const StudioContext = createContext<Studio | null>(null);

export function StudioProvider({ api, host, children }: Studio & { children: ReactNode }) {
  return <StudioContext.Provider value={{ api, host }}>{children}</StudioContext.Provider>;
}

export function useStudio(): Studio {
  const studio = useContext(StudioContext);
  if (!studio) throw new Error('useStudio outside StudioProvider');
  return studio;
}
