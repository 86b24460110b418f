// Version 4: what another tool recorded about an imported image (its name, model, sampler, LoRAs and
// every other key, as text in `settings_text`) is searched along with prompts and tags. The FTS5 table
// gains the column, so it is rebuilt: external-content FTS tables cannot be altered (sqlite.org/fts5.html §4.4.3).
import type Database from 'better-sqlite3';

export const version = 4;
export const name = 'imported-settings-search';

export function up(db: Database.Database): void {
  db.exec(`
    ALTER TABLE generations ADD COLUMN settings_text TEXT NOT NULL DEFAULT '';

    -- Rows imported before: what extra.imported kept (tool, model, sampler, the other keys as JSON).
    UPDATE generations SET settings_text = trim(
      coalesce(json_extract(extra, '$.imported.source'), '') || ' ' ||
      coalesce(json_extract(extra, '$.imported.modelName'), '') || ' ' ||
      coalesce(json_extract(extra, '$.imported.samplerLabel'), '') || ' ' ||
      coalesce(json_extract(extra, '$.imported.other'), ''))
    WHERE json_extract(extra, '$.imported') IS NOT NULL;

    DROP TRIGGER generations_fts_insert;
    DROP TRIGGER generations_fts_delete;
    DROP TRIGGER generations_fts_update;
    DROP TABLE generations_fts;
    CREATE VIRTUAL TABLE generations_fts USING fts5 (
      prompt, negative_prompt, tags, settings_text,
      content = 'generations', content_rowid = 'seq',
      tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER generations_fts_insert AFTER INSERT ON generations BEGIN
      INSERT INTO generations_fts (rowid, prompt, negative_prompt, tags, settings_text)
        VALUES (new.seq, new.prompt, new.negative_prompt, new.tags, new.settings_text);
    END;
    CREATE TRIGGER generations_fts_delete AFTER DELETE ON generations BEGIN
      INSERT INTO generations_fts (generations_fts, rowid, prompt, negative_prompt, tags, settings_text)
        VALUES ('delete', old.seq, old.prompt, old.negative_prompt, old.tags, old.settings_text);
    END;
    CREATE TRIGGER generations_fts_update AFTER UPDATE OF prompt, negative_prompt, tags, settings_text ON generations BEGIN
      INSERT INTO generations_fts (generations_fts, rowid, prompt, negative_prompt, tags, settings_text)
        VALUES ('delete', old.seq, old.prompt, old.negative_prompt, old.tags, old.settings_text);
      INSERT INTO generations_fts (rowid, prompt, negative_prompt, tags, settings_text)
        VALUES (new.seq, new.prompt, new.negative_prompt, new.tags, new.settings_text);
    END;
    INSERT INTO generations_fts (generations_fts) VALUES ('rebuild');
  `);
}
