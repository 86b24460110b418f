// Models, recipes and aggregators, loaded once per screen and kept fresh by the services' events.
import type { AggregatorInfo, ModelInfo, Recipe } from '../../app/api/contract.ts';
import { useStudio } from './studio-context.tsx';
import { useLoader, type Loaded } from './use-loader.ts';

export function useModels(): Loaded<ModelInfo[]> {
  const { api } = useStudio();
  return useLoader(() => api.models.list(), [api], (reload) => api.models.onDidChange(reload));
}

export function useRecipes(): Loaded<Recipe[]> {
  const { api } = useStudio();
  return useLoader(() => api.recipes.list(), [api], (reload) => api.recipes.onDidChange(reload));
}

export function useAggregators(): Loaded<AggregatorInfo[]> {
  const { api } = useStudio();
  return useLoader(() => api.aggregators.list(), [api], (reload) => api.aggregators.onDidChange(reload));
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

export function formatDate(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
