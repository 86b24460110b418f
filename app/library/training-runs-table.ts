// Training runs of SABW aggregators (app/ensemble's trainer): what was trained, how it went, and
// the aggregator it produced.
import type Database from 'better-sqlite3';
import { UserError } from '../common/errors.ts';
import type { JsonValue, RecipeSnapshot } from '../images/generation-settings.ts';
import { newId } from './ids.ts';
import { jsonColumn, parseJsonColumn } from './json-column.ts';

export type TrainingStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface TrainingMetric {
  readonly step: number;
  readonly [measure: string]: number;
}

export interface TrainingRunRow {
  readonly id: string;
  readonly name: string;
  readonly recipe: RecipeSnapshot;
  readonly config: { readonly [key: string]: JsonValue };
  readonly status: TrainingStatus;
  readonly metrics: readonly TrainingMetric[];
  readonly aggregatorId: string | null;
  readonly error: string | null;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
}

interface Row {
  id: string;
  name: string;
  recipe: string;
  config: string;
  status: TrainingStatus;
  metrics: string;
  aggregator_id: string | null;
  error: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

export function rowToTrainingRun(row: Row): TrainingRunRow {
  return {
    id: row.id,
    name: row.name,
    recipe: parseJsonColumn<RecipeSnapshot>(row.recipe, { recipeId: null, name: null, method: 'afa', members: [], aggregatorId: null }),
    config: parseJsonColumn(row.config, {}),
    status: row.status,
    metrics: parseJsonColumn<TrainingMetric[]>(row.metrics, []),
    aggregatorId: row.aggregator_id,
    error: row.error,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

export class TrainingRunsTable {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  insert(run: { name: string; recipe: RecipeSnapshot; config: { readonly [key: string]: JsonValue } }, at: number = Date.now()): TrainingRunRow {
    const id = newId('trn', at);
    this.#db
      .prepare(`INSERT INTO training_runs (id, name, recipe, config, status, created_at) VALUES (?, ?, ?, ?, 'queued', ?)`)
      .run(id, run.name, jsonColumn(run.recipe), jsonColumn(run.config), at);
    return this.get(id)!;
  }

  get(id: string): TrainingRunRow | undefined {
    const row = this.#db.prepare<[string], Row>('SELECT * FROM training_runs WHERE id = ?').get(id);
    return row ? rowToTrainingRun(row) : undefined;
  }

  list(): TrainingRunRow[] {
    return this.#db.prepare<[], Row>('SELECT * FROM training_runs ORDER BY created_at DESC, id DESC').all().map(rowToTrainingRun);
  }

  /** Moves a run to `status`, stamping started_at/finished_at as it enters running/an end state. */
  setStatus(id: string, status: TrainingStatus, details: { error?: string | null; aggregatorId?: string | null } = {}, at: number = Date.now()): void {
    const result = this.#db
      .prepare(
        `UPDATE training_runs SET status = @status, error = @error,
           aggregator_id = coalesce(@aggregator_id, aggregator_id),
           started_at = CASE WHEN @status = 'running' AND started_at IS NULL THEN @at ELSE started_at END,
           finished_at = CASE WHEN @status IN ('done', 'failed', 'cancelled') THEN @at ELSE finished_at END
         WHERE id = @id`,
      )
      .run({ id, status, error: details.error ?? null, aggregator_id: details.aggregatorId ?? null, at });
    if (result.changes === 0) throw new UserError('not-found', `There is no training run ${id}.`);
  }

  /** Appends metric points (one JSON array per run: runs log hundreds of points, not millions). */
  appendMetrics(id: string, points: readonly TrainingMetric[]): void {
    this.#db
      .transaction(() => {
        const run = this.get(id);
        if (!run) throw new UserError('not-found', `There is no training run ${id}.`);
        this.#db.prepare('UPDATE training_runs SET metrics = ? WHERE id = ?').run(jsonColumn([...run.metrics, ...points]), id);
      })
      .immediate();
  }

  remove(id: string): boolean {
    return this.#db.prepare('DELETE FROM training_runs WHERE id = ?').run(id).changes === 1;
  }
}
