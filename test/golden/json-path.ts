// The tiny JSONPath subset the golden manifest uses in `json` entries: `[*].text`, `[3]`, `a.b[0].c`,
// optionally starting with `$`. `[*]` maps the rest of the path over every element of an array.

type Step = { readonly field: string } | { readonly index: number } | { readonly every: true };

export function parseJsonPath(path: string): readonly Step[] {
  const steps: Step[] = [];
  const pattern = /\.?([A-Za-z_][\w-]*)|\[(\*|\d+)\]/y;
  let index = path.startsWith('$') ? 1 : 0;
  while (index < path.length) {
    pattern.lastIndex = index;
    const match = pattern.exec(path);
    if (!match) throw new Error(`json_path '${path}' is not understood at '${path.slice(index)}'`);
    if (match[1] !== undefined) steps.push({ field: match[1] });
    else if (match[2] === '*') steps.push({ every: true });
    else steps.push({ index: Number(match[2]) });
    index = pattern.lastIndex;
  }
  return steps;
}

export function selectJson(value: unknown, path: string): unknown {
  return apply(value, parseJsonPath(path), path);
}

function apply(value: unknown, steps: readonly Step[], path: string): unknown {
  if (steps.length === 0) return value;
  const [step, ...rest] = steps as [Step, ...Step[]];
  if ('every' in step) {
    if (!Array.isArray(value)) throw new Error(`json_path '${path}': [*] applied to a non-array`);
    return value.map((item) => apply(item, rest, path));
  }
  if ('index' in step) {
    if (!Array.isArray(value) || step.index >= value.length) throw new Error(`json_path '${path}': no element [${step.index}]`);
    return apply(value[step.index], rest, path);
  }
  if (typeof value !== 'object' || value === null || !Object.hasOwn(value, step.field)) {
    throw new Error(`json_path '${path}': no field '${step.field}'`);
  }
  return apply((value as Record<string, unknown>)[step.field], rest, path);
}
