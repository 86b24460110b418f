import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { UserError } from '../../app/common/errors.ts';
import type { GenerationSettings } from '../../app/images/generation-settings.ts';
import { GenerationsTable, type GenerationQuery, type GenerationStatus } from '../../app/library/generations-table.ts';
import { migrate } from '../../app/library/migrations.ts';
import { modelId, settings } from './fixtures.ts';

// A history of 1 400 rows built so that both search plans run: 'common' is in ~90 % of prompts (the
// dense plan), the rare words in a few (the sparse plan). Rows are inserted out of date order, with
// date ties, the way imports of older images and fast batches produce them.
interface Expected {
  id: string;
  createdAt: number;
  text: string;
  models: string[];
  method: string;
  favourite: boolean;
  status: GenerationStatus;
  trashed: boolean;
}

const RARE = ['zebra', 'quokka', 'narwhal'];
const WORDS = ['castle', 'forest', 'portrait', 'river', 'robot', 'garden', 'dragon', 'city'];
const METHODS = ['single', 'afa', 'average'];
const STATUSES: GenerationStatus[] = ['done', 'done', 'done', 'failed', 'cancelled'];
const T0 = Date.UTC(2024, 5, 1);

let db: Database.Database;
let table: GenerationsTable;
const expected: Expected[] = [];

function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

function tokens(text: string): string[] {
  return text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}

function bruteForce(query: GenerationQuery): string[] {
  const words = query.search === undefined ? [] : tokens(query.search);
  const statuses = query.status === undefined ? undefined : typeof query.status === 'string' ? [query.status] : query.status;
  return expected
    .filter((row) => {
      const rowTokens = tokens(row.text);
      if (!words.every((word, i) => rowTokens.some((token) => (i === words.length - 1 ? token.startsWith(word) : token === word)))) return false;
      if (query.modelId !== undefined && !row.models.includes(query.modelId)) return false;
      if (query.method !== undefined && row.method !== query.method) return false;
      if (query.from !== undefined && row.createdAt < query.from) return false;
      if (query.to !== undefined && row.createdAt >= query.to) return false;
      if (query.favourite !== undefined && row.favourite !== query.favourite) return false;
      if (statuses !== undefined && !statuses.includes(row.status)) return false;
      const trashed = query.trashed ?? 'exclude';
      if (trashed === 'exclude' && row.trashed) return false;
      if (trashed === 'only' && !row.trashed) return false;
      return true;
    })
    .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
    .map((row) => row.id);
}

function allPages(query: GenerationQuery, limit = 60): string[] {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const result = table.list({ ...query, cursor, limit });
    assert.ok(result.items.length <= limit);
    ids.push(...result.items.map((item) => item.id));
    if (result.nextCursor === null) return ids;
    assert.equal(result.items.length, limit, 'only the last page is short');
    cursor = result.nextCursor;
  }
  throw new Error('pagination did not end');
}

before(() => {
  db = new Database(':memory:');
  db.pragma('foreign_keys = ON');
  migrate(db);
  table = new GenerationsTable(db);
  const next = random(7);
  db.transaction(() => {
    for (let i = 0; i < 1400; i++) {
      // Mostly in order, every 7th row from the past (an import), every 5th sharing its neighbour's time.
      const minute = i % 7 === 0 ? Math.floor(next() * 1400) : i - (i % 5 === 0 ? 1 : 0);
      const createdAt = T0 + minute * 60_000;
      const words = [WORDS[Math.floor(next() * WORDS.length)], WORDS[Math.floor(next() * WORDS.length)]];
      if (next() < 0.9) words.push('common');
      if (i % 97 === 0) words.push(RARE[(i / 97) % RARE.length]);
      const method = METHODS[i % 3];
      const memberCount = method === 'single' ? 1 : 2;
      const members = Array.from({ length: memberCount }, (_, k) => {
        const index = (i + k * 3) % 6;
        return { modelId: modelId(index), shortHash: modelId(index).slice(0, 10), name: `model-${index}` };
      });
      const recipe = { recipeId: null, name: null, method, members, aggregatorId: null };
      const tags = i % 11 === 0 ? ['keeper'] : [];
      const row: GenerationSettings = settings({ prompt: `a ${words.join(' ')}`, negativePrompt: i % 13 === 0 ? 'watermark' : 'blurry', recipe });
      const favourite = i % 9 === 0;
      const status = STATUSES[i % STATUSES.length];
      const inserted = table.insert({ createdAt, settings: row, status, favourite, tags });
      expected.push({
        id: inserted.id,
        createdAt,
        text: `${row.prompt} ${row.negativePrompt} ${JSON.stringify(tags)}`,
        models: members.map((member) => member.modelId),
        method,
        favourite,
        status,
        trashed: false,
      });
    }
  })();
  const trashedIds = expected.filter((_, i) => i % 50 === 1).map((row) => row.id);
  table.markTrashed(trashedIds, 'trash_test', T0);
  for (const row of expected) if (trashedIds.includes(row.id)) row.trashed = true;
  db.exec('ANALYZE');
});

describe('generations: search, filters and pagination', () => {
  const queries: [string, GenerationQuery][] = [
    ['everything', {}],
    ['a word in 90 % of rows (dense plan)', { search: 'common' }],
    ['a rare word (sparse plan)', { search: 'zebra' }],
    ['a prefix of a dense word', { search: 'comm' }],
    ['two words, one rare', { search: 'common quokka' }],
    ['a negative-prompt word', { search: 'watermark' }],
    ['a tag', { search: 'keeper' }],
    ['a model (any member)', { modelId: modelId(2) }],
    ['a model and a dense word', { modelId: modelId(4), search: 'common' }],
    ['a model and a rare word', { modelId: modelId(4), search: 'narwhal' }],
    ['method and favourite', { method: 'afa', favourite: true }],
    ['not favourite', { favourite: false, method: 'single' }],
    ['date range', { from: T0 + 300 * 60_000, to: T0 + 600 * 60_000 }],
    ['date range with a model', { modelId: modelId(1), from: T0 + 300 * 60_000, to: T0 + 900 * 60_000 }],
    ['statuses', { status: ['failed', 'cancelled'] }],
    ['search, status and date', { search: 'castle', status: 'done', from: T0, to: T0 + 1000 * 60_000 }],
    ['the trash', { trashed: 'only' }],
    ['including the trash', { trashed: 'include', search: 'dragon' }],
    ['no match', { search: 'xylophone' }],
  ];

  for (const [name, query] of queries) {
    it(`${name}: every page matches a brute-force filter, in order, without gaps or repeats`, () => {
      const want = bruteForce(query);
      const got = allPages(query);
      assert.deepEqual(got, want);
      assert.equal(new Set(got).size, got.length);
      assert.equal(table.count(query), want.length);
      assert.deepEqual(allPages(query, 7), want, 'other page sizes agree');
    });
  }

  it('the test data exercises both search plans', () => {
    assert.ok(bruteForce({ search: 'common' }).length > 1000);
    assert.ok(bruteForce({ search: 'zebra' }).length < 100 && bruteForce({ search: 'zebra' }).length > 0);
  });

  it('FTS syntax in the search text is taken literally and never reaches SQL', () => {
    for (const search of ['"', 'NOT', 'a OR b', 'c*', 'col:val', "'); DROP TABLE generations; --", '(', 'NEAR(a b)', '-', '***']) {
      assert.doesNotThrow(() => table.list({ search }), search);
    }
    assert.equal(table.count(), bruteForce({}).length);
    assert.deepEqual(allPages({ search: 'castle"' }), bruteForce({ search: 'castle' }));
  });

  it('rejects a damaged cursor and a bad page size with invalid-argument', () => {
    const isInvalid = (error: unknown) => error instanceof UserError && error.code === 'invalid-argument';
    assert.throws(() => table.list({ cursor: 'not-a-cursor' }), isInvalid);
    assert.throws(() => table.list({ cursor: Buffer.from('[1,2]').toString('base64url') }), isInvalid);
    assert.throws(() => table.list({ limit: 0 }), isInvalid);
    assert.throws(() => table.list({ limit: 501 }), isInvalid);
  });
});

describe('generations: query plans', () => {
  function plan(query: GenerationQuery): string {
    const statement = table.listSql(query);
    return db
      .prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${statement.text}`)
      .all(...statement.params)
      .map((row) => row.detail)
      .join(' | ');
  }

  const cases: [string, GenerationQuery, RegExp][] = [
    ['newest first', {}, /SCAN g USING INDEX generations_created/],
    ['by cursor', { cursor: Buffer.from(JSON.stringify([T0, 'gen_Z'])).toString('base64url') }, /g USING INDEX generations_created/],
    ['by method', { method: 'afa' }, /SEARCH g USING INDEX generations_method_created \(method=\?\)/],
    ['by status', { status: 'failed' }, /SEARCH g USING INDEX generations_status_created \(status=\?\)/],
    ['favourites', { favourite: true }, /SCAN g USING INDEX generations_favourite_created/],
    ['by model', { modelId: modelId(3) }, /SEARCH m USING INDEX generation_models_model_created \(model_id=\?\)/],
    ['dense search probes the date index', { search: 'common' }, /SCAN g USING INDEX generations_created.*generations_fts VIRTUAL TABLE/],
    ['sparse search reads the FTS matches', { search: 'zebra' }, /SEARCH g USING INTEGER PRIMARY KEY.*SCAN generations_fts VIRTUAL TABLE/],
  ];
  for (const [name, query, expectedPlan] of cases) {
    it(`${name}: uses its index, never a table scan`, () => {
      const detail = plan(query);
      assert.match(detail, expectedPlan, detail);
      assert.doesNotMatch(detail, /SCAN (g|m|generations)( |$)(?!USING)/, detail);
      // The page is fetched whole only by primary key in the outer query.
      assert.match(detail, /^SEARCH generations USING INTEGER PRIMARY KEY/, detail);
    });
  }
});

describe('generations: rows', () => {
  it('round-trip every field, seeds up to 2^53 − 1 included', () => {
    const row = table.insert({
      createdAt: T0,
      settings: settings({ seed: 2 ** 53 - 1, extra: { eta: 0.5 } }),
      status: 'done',
      timings: { totalMs: 1234, stepMs: [50, 51] },
      imagePath: 'images/x/a.png',
      thumbnailPath: 'thumbnails/x/a.png',
      favourite: true,
      tags: ['b', ' a ', 'b', ''],
    });
    assert.equal(row.settings.seed, 2 ** 53 - 1);
    assert.deepEqual(row.settings, settings({ seed: 2 ** 53 - 1, extra: { eta: 0.5 } }));
    assert.deepEqual(row.tags, ['b', 'a']);
    assert.deepEqual(row.timings, { totalMs: 1234, stepMs: [50, 51] });
    assert.equal(JSON.stringify(JSON.parse(JSON.stringify(row))), JSON.stringify(row), 'plain JSON');
    table.setFavourite(row.id, false);
    table.setTags(row.id, ['renamed']);
    table.setStatus(row.id, 'missing', 'gone');
    const changed = table.require(row.id);
    assert.deepEqual([changed.favourite, changed.tags, changed.status, changed.error], [false, ['renamed'], 'missing', 'gone']);
    assert.deepEqual(table.list({ search: 'renamed' }).items.map((item) => item.id), [row.id], 'tags are searchable after a change');
    table.delete([row.id]);
    assert.equal(table.get(row.id), undefined);
    assert.deepEqual(table.list({ search: 'renamed' }).items, [], 'the FTS entry went with the row');
  });

  it('refuse unknown statuses and unsafe seeds, and name missing rows', () => {
    assert.throws(() => table.insert({ createdAt: T0, settings: settings(), status: 'lost' as GenerationStatus }), /not a generation status/);
    assert.throws(() => table.insert({ createdAt: T0, settings: settings({ seed: 2 ** 53 }), status: 'done' }), /Seed/);
    assert.throws(() => table.setFavourite('gen_nope', true), (error: unknown) => error instanceof UserError && error.code === 'not-found');
  });
});
