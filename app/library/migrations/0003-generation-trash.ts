// Version 3: deleting a generation moves it to the studio trash, from where it can be restored.
// A trashed row keeps its image_path (where the file goes back to); trash_batch groups one delete.
import type Database from 'better-sqlite3';

export const version = 3;
export const name = 'generation-trash';

export function up(db: Database.Database): void {
  db.exec(`
    ALTER TABLE generations ADD COLUMN trashed_at INTEGER;
    ALTER TABLE generations ADD COLUMN trash_batch TEXT;
    CREATE INDEX generations_trash_batch ON generations (trash_batch) WHERE trash_batch IS NOT NULL;
  `);
}
