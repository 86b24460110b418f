// Version 1: the model catalog, aggregators, recipes, generation history and the prompt gallery,
// with FTS5 indexes over prompts and tags.
import type Database from 'better-sqlite3';

export const version = 1;
export const name = 'initial';

export function up(db: Database.Database): void {
  db.exec(`
    -- Imported checkpoints. Rows are written by app/checkpoints' importer; id is the file's SHA-256.
    CREATE TABLE models (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      source_path TEXT NOT NULL,
      sha256 TEXT NOT NULL,
      short_hash TEXT NOT NULL,            -- AUTOV2: first 10 hex digits of sha256
      architecture TEXT NOT NULL,          -- 'sd1', ...
      precision TEXT NOT NULL CHECK (precision IN ('fp32', 'fp16', 'bf16')),
      size_bytes INTEGER NOT NULL,
      store_dir TEXT NOT NULL,             -- converted artifacts
      components TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(components)),
      added_at INTEGER NOT NULL,           -- ms since the epoch, like every *_at column
      last_used_at INTEGER
    ) STRICT;
    CREATE INDEX models_short_hash ON models (short_hash);

    -- Trained SABW aggregators; expert_hashes are the short hashes of the U-Nets they were trained on.
    CREATE TABLE aggregators (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      path TEXT NOT NULL,
      expert_hashes TEXT NOT NULL CHECK (json_valid(expert_hashes)),
      config TEXT NOT NULL CHECK (json_valid(config)),
      created_at INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE recipes (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      document TEXT NOT NULL CHECK (json_valid(document)),
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    ) STRICT;

    -- One row per image. seq is an explicit INTEGER PRIMARY KEY because the FTS index refers to rows
    -- by rowid, and an implicit rowid may be renumbered by VACUUM.
    CREATE TABLE generations (
      seq INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      prompt TEXT NOT NULL,
      negative_prompt TEXT NOT NULL,
      seed INTEGER NOT NULL,
      steps INTEGER NOT NULL,
      guidance REAL NOT NULL,
      sampler TEXT NOT NULL,
      width INTEGER NOT NULL,
      height INTEGER NOT NULL,
      batch_index INTEGER NOT NULL,
      method TEXT NOT NULL,                -- copy of recipe.method, for the method filter
      recipe TEXT NOT NULL CHECK (json_valid(recipe)),   -- the recipe snapshot, not a reference
      extra TEXT CHECK (extra IS NULL OR json_valid(extra)),
      status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled', 'missing')),
      error TEXT,
      timings TEXT CHECK (timings IS NULL OR json_valid(timings)),
      image_path TEXT,                     -- relative to the studio home, '/'-separated
      thumbnail_path TEXT,
      favourite INTEGER NOT NULL DEFAULT 0 CHECK (favourite IN (0, 1)),
      tags TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),
      source TEXT NOT NULL DEFAULT 'afa-studio',   -- tool whose metadata the settings came from
      created_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX generations_created ON generations (created_at DESC, id DESC);
    CREATE INDEX generations_method_created ON generations (method, created_at DESC, id DESC);
    CREATE INDEX generations_status_created ON generations (status, created_at DESC, id DESC);
    CREATE INDEX generations_favourite_created ON generations (created_at DESC, id DESC) WHERE favourite = 1;
    CREATE UNIQUE INDEX generations_image_path ON generations (image_path) WHERE image_path IS NOT NULL;

    -- The catalog models each generation used, for the "made with model X" filter. created_at and
    -- generation_id are copied so that filter pages straight from one index.
    CREATE TABLE generation_models (
      generation_seq INTEGER NOT NULL REFERENCES generations (seq) ON DELETE CASCADE,
      model_id TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      generation_id TEXT NOT NULL,
      PRIMARY KEY (generation_seq, model_id)
    ) STRICT;
    CREATE INDEX generation_models_model_created ON generation_models (model_id, created_at DESC, generation_id DESC);

    -- External-content FTS5 index: the text lives once, in generations. Tags are indexed as their
    -- JSON text; the tokenizer splits on the JSON punctuation.
    CREATE VIRTUAL TABLE generations_fts USING fts5 (
      prompt, negative_prompt, tags,
      content = 'generations', content_rowid = 'seq',
      tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER generations_fts_insert AFTER INSERT ON generations BEGIN
      INSERT INTO generations_fts (rowid, prompt, negative_prompt, tags)
        VALUES (new.seq, new.prompt, new.negative_prompt, new.tags);
    END;
    CREATE TRIGGER generations_fts_delete AFTER DELETE ON generations BEGIN
      INSERT INTO generations_fts (generations_fts, rowid, prompt, negative_prompt, tags)
        VALUES ('delete', old.seq, old.prompt, old.negative_prompt, old.tags);
    END;
    CREATE TRIGGER generations_fts_update AFTER UPDATE OF prompt, negative_prompt, tags ON generations BEGIN
      INSERT INTO generations_fts (generations_fts, rowid, prompt, negative_prompt, tags)
        VALUES ('delete', old.seq, old.prompt, old.negative_prompt, old.tags);
      INSERT INTO generations_fts (rowid, prompt, negative_prompt, tags)
        VALUES (new.seq, new.prompt, new.negative_prompt, new.tags);
    END;

    -- The prompt gallery.
    CREATE TABLE prompts (
      seq INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      title TEXT NOT NULL,
      prompt TEXT NOT NULL,
      negative_prompt TEXT NOT NULL,
      tags TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),
      favourite INTEGER NOT NULL DEFAULT 0 CHECK (favourite IN (0, 1)),
      use_count INTEGER NOT NULL DEFAULT 0,
      last_used_at INTEGER,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    ) STRICT;
    CREATE VIRTUAL TABLE prompts_fts USING fts5 (
      title, prompt, negative_prompt, tags,
      content = 'prompts', content_rowid = 'seq',
      tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER prompts_fts_insert AFTER INSERT ON prompts BEGIN
      INSERT INTO prompts_fts (rowid, title, prompt, negative_prompt, tags)
        VALUES (new.seq, new.title, new.prompt, new.negative_prompt, new.tags);
    END;
    CREATE TRIGGER prompts_fts_delete AFTER DELETE ON prompts BEGIN
      INSERT INTO prompts_fts (prompts_fts, rowid, title, prompt, negative_prompt, tags)
        VALUES ('delete', old.seq, old.title, old.prompt, old.negative_prompt, old.tags);
    END;
    CREATE TRIGGER prompts_fts_update AFTER UPDATE OF title, prompt, negative_prompt, tags ON prompts BEGIN
      INSERT INTO prompts_fts (prompts_fts, rowid, title, prompt, negative_prompt, tags)
        VALUES ('delete', old.seq, old.title, old.prompt, old.negative_prompt, old.tags);
      INSERT INTO prompts_fts (rowid, title, prompt, negative_prompt, tags)
        VALUES (new.seq, new.title, new.prompt, new.negative_prompt, new.tags);
    END;
  `);
}
