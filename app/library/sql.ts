// SQL fragments with bound parameters, after Signal-Desktop's `sqlFragment`/`sqlJoin` (ts/sql/util.ts):
// queries whose WHERE clause depends on the filters are assembled from fragments, and every value
// goes in as a `?` parameter — user text never becomes part of the SQL.
export type SqlValue = string | number | bigint | null | Uint8Array;

export interface SqlFragment {
  readonly text: string;
  readonly params: readonly SqlValue[];
}

function isFragment(value: unknown): value is SqlFragment {
  return typeof value === 'object' && value !== null && !(value instanceof Uint8Array) && 'text' in value && 'params' in value;
}

/** `sql\`a = ${x} AND ${otherFragment}\``: values become `?`, nested fragments are spliced in. */
export function sql(strings: TemplateStringsArray, ...values: readonly (SqlValue | SqlFragment)[]): SqlFragment {
  let text = strings[0];
  const params: SqlValue[] = [];
  values.forEach((value, i) => {
    if (isFragment(value)) {
      text += value.text;
      params.push(...value.params);
    } else {
      text += '?';
      params.push(value);
    }
    text += strings[i + 1];
  });
  return { text, params };
}

/** Joins fragments with a separator that is itself fixed SQL (' AND ', ', '). */
export function sqlJoin(fragments: readonly SqlFragment[], separator: ' AND ' | ' OR ' | ', '): SqlFragment {
  return { text: fragments.map((fragment) => fragment.text).join(separator), params: fragments.flatMap((fragment) => fragment.params) };
}

/** Fixed SQL text chosen by code (a column name from a whitelist, a direction); never user input. */
export function sqlRaw(text: string): SqlFragment {
  return { text, params: [] };
}
