// Reverse-mode differentiation of a graph built with app/onnx: appends the backward pass to the same
// Graph, so one ONNX model computes the loss and the gradients of the chosen tensors in one run.
//
// The walk visits only the nodes that lie on a path from a wanted tensor to the loss, in reverse graph
// (= topological) order, applies each node's rule from app/autodiff/gradient-rules.ts and sums the
// gradients that meet at a value. Frozen layers between a trainable tensor and the loss are walked for
// the gradients of their inputs, never for their own weights. A node on that path whose op has no rule
// fails here, at graph-build time, naming the op and the node.
//
// Activation checkpointing (Chen et al. 2016, "Training deep nets with sublinear memory cost"): given
// checkpoint values that cut the forward graph into segments, the backward pass of a segment does not
// read the segment's forward activations; it recomputes them from the segment's entry values right
// before it needs them. Only the checkpoints (and values that cross segments anyway, like the timestep
// embedding) stay alive, so a step's peak memory is about one segment's activations plus the
// checkpoints. onnxruntime schedules nodes in dependency order and eliminates common subexpressions,
// so a plain copy of the segment would run (or be merged) with the forward: each recomputed segment's
// entries are therefore tied to the gradient arriving at that segment (entry + 0·dy[0], one scalar),
// which both orders the recomputation after the later segments' backward and makes it a distinct
// computation. Segments are not alike: in a U-Net the low-resolution ones hold little (8×8 or 4×4
// activations) and compute much (1280-channel convolutions), so with BackwardOptions.keepShare the
// segments with the most arithmetic per activation byte are kept, not recomputed, up to that share of
// all segments' bytes (measured on the SD1.5 AFA step: points 6–18 are 40 % of the forward's time and
// 11 % of its activations).
//
// Filter copies (a speed–memory trade, BackwardOptions.filterCopyBytes): the input gradient of a
// stride-1 convolution is itself a convolution of dY with the filter transposed (input ↔ output
// channels) and flipped in space. onnxruntime's CPU ConvTranspose runs 1.3–2.1× slower than its Conv of
// the same size (a GEMM into a k²-times larger column buffer, then a single-threaded col2im), so for
// frozen filters the backward convolves with a channel-swapped copy instead, a Transpose of the weight
// that onnxruntime computes once at load (constant folding); the spatial flip moves to the activations
// (dX = flip(Conv(flip(dY), Wᵀ)), two cheap Slices), because a flipped weight would be a second folded
// intermediate the size of the filter, held until folding ends (measured: +1 filter at peak). Each copy
// costs the filter's bytes, so the budget goes to the convolutions with the most work per filter byte
// (the most output positions) first.
import { UserError } from '../common/errors.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { Graph, Node, Value } from '../onnx/graph.ts';
import { byteLengthOf, describeNode } from '../onnx/graph.ts';
import { add, expand, mul, reshape, shape as shapeOf, slice, transpose } from '../onnx/ops.ts';
import { convInputGradientAsConv, GRADIENT_RULES, isDifferentiable, numericShape, ruleKey, type GradientContext } from './gradient-rules.ts';

export interface BackwardOptions {
  /**
   * Forward values that cut the graph into recomputed segments (activation checkpointing), in forward
   * order. Empty or absent: every activation the backward pass needs is kept from the forward pass.
   */
  readonly checkpoints?: readonly Value[];
  /**
   * Share (0–1) of the segments' activation bytes that may stay kept instead of recomputed, spent on the
   * segments with the most arithmetic per byte; default 0 (every segment recomputed).
   */
  readonly keepShare?: number;
  /** ∂L/∂loss; default 1 (of the loss's shape). */
  readonly seed?: Value;
  /**
   * Bytes the backward pass may spend on channel-swapped copies of frozen convolution filters (see above);
   * default 0: every input gradient of a convolution is a ConvTranspose of the filter as stored.
   */
  readonly filterCopyBytes?: number;
}

export interface BackwardResult {
  /** ∂loss/∂v for every requested value, by its name; a value the loss does not depend on gets zeros. */
  readonly gradients: ReadonlyMap<string, Value>;
  /** How many forward nodes the backward walk visited and how many it recomputed. */
  readonly stats: BackwardStats;
}

export interface BackwardStats {
  /** Forward nodes the backward walk applied a rule to. */
  readonly visited: number;
  /** Forward nodes copied for recomputation, and the recomputed segments. */
  readonly recomputed: number;
  readonly segments: number;
  /** Segments between checkpoints kept instead of recomputed (BackwardOptions.keepShare). */
  readonly keptSegments: number;
  /**
   * Bytes of forward activations the backward pass reads and onnxruntime must therefore keep until then
   * (static shapes only): what activation checkpointing saves.
   */
  readonly keptBytes: number;
  /**
   * Bytes of the forward activations of the largest recomputed segment (0 without recomputation): what a
   * segment's backward holds on top of the kept values while it runs (static shapes only).
   */
  readonly workingBytes: number;
  /** Bytes of the filter copies the backward reads (BackwardOptions.filterCopyBytes), and how many convolutions use them. */
  readonly filterCopyBytes: number;
  readonly convolutionsOnCopies: number;
}

interface Producer {
  readonly node: Node;
  readonly position: number;
}

/** Appends ∂loss/∂wrt to `g` (loss: a float value of `g`, usually a scalar). */
export function appendBackward(g: Graph, loss: Value, wrt: readonly Value[], options: BackwardOptions = {}): BackwardResult {
  const nodes = [...g.nodes];
  const producers = new Map<string, Producer>();
  nodes.forEach((node, position) => node.outputs.forEach((output) => producers.set(output.name, { node, position })));
  const constants = new Map<string, Tensor>();
  for (const initializer of g.initializers) if (initializer.kind === 'constant') constants.set(initializer.value.name, initializer.tensor);

  // Values that depend on a wanted tensor (forward sweep) and that the loss depends on (backward sweep).
  const dependsOnWrt = new Set(wrt.map((value) => value.name));
  for (const node of nodes) {
    if (node.inputs.some((input) => input && dependsOnWrt.has(input.name))) {
      for (const output of node.outputs) if (isDifferentiable(output)) dependsOnWrt.add(output.name);
    }
  }
  const reachesLoss = new Set([loss.name]);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    if (node.outputs.some((output) => reachesLoss.has(output.name))) for (const input of node.inputs) if (input) reachesLoss.add(input.name);
  }
  const onPath = (value: Value | undefined): value is Value =>
    value !== undefined && isDifferentiable(value) && dependsOnWrt.has(value.name) && reachesLoss.has(value.name);

  const recompute = new Recomputation(g, nodes, producers, options.checkpoints ?? [], options.keepShare ?? 0);
  const copied = chooseFilterCopies(nodes, options.filterCopyBytes ?? 0, onPath, (value) => !dependsOnWrt.has(value.name) && !recompute.isDynamic(value.name));
  const swappedValues = new Map<string, Value>();
  const swappedFilter = (node: Node): Value | undefined => {
    if (!copied.nodes.has(node.name)) return undefined;
    const filter = node.inputs[1]!;
    let value = swappedValues.get(filter.name);
    if (!value) {
      const rank = filter.shape!.length;
      value = g.scope(`filter_copy.${filter.name.replaceAll('/', '.')}`, () => transpose(g, filter, Array.from({ length: rank }, (_, i) => (i === 0 ? 1 : i === 1 ? 0 : i))));
      swappedValues.set(filter.name, value);
    }
    return value;
  };
  const gradients = new Map<string, Value>();
  const accumulate = (value: Value, gradient: Value) => {
    const existing = gradients.get(value.name);
    gradients.set(value.name, existing ? add(g, existing, gradient) : gradient);
  };
  const seed = options.seed ?? g.scalar(1, loss.dtype);
  gradients.set(loss.name, loss.shape && loss.shape.length > 0 ? broadcastLike(g, seed, loss) : seed);

  let visited = 0;
  g.scope('backward', () => {
    for (let position = nodes.length - 1; position >= 0; position--) {
      const node = nodes[position]!;
      const outputGradients = node.outputs.map((output) => gradients.get(output.name));
      if (outputGradients.every((gradient) => gradient === undefined)) continue;
      if (!node.inputs.some(onPath)) continue;
      const rule = GRADIENT_RULES[ruleKey(node)];
      if (!rule) {
        throw new UserError(
          'unsupported',
          `No gradient rule for the op ${ruleKey(node)}: the loss depends on a trainable tensor through it.\nin ${describeNode(node.op, node.name, node.inputs)}`,
          'Add a rule to app/autodiff/gradient-rules.ts, or freeze the tensors before this node.',
        );
      }
      visited++;
      const view = recompute.viewAt(position, outputGradients.find((gradient) => gradient !== undefined)!);
      const context: GradientContext = {
        g,
        node,
        outputGradients,
        needs: (index) => onPath(node.inputs[index]),
        input: (index) => view(node.inputs[index]!),
        output: (index) => view(node.outputs[index]!),
        constant: (value) => (value ? constants.get(value.name) : undefined),
        producer: (value) => (value ? producers.get(value.name)?.node : undefined),
        swappedFilter: () => swappedFilter(node),
      };
      const inputGradients = g.scope(node.name.replaceAll('/', '.'), () => rule(context));
      node.inputs.forEach((input, index) => {
        const gradient = inputGradients[index];
        if (gradient && onPath(input)) accumulate(input, gradient);
      });
    }
  });

  const result = new Map<string, Value>();
  for (const value of wrt) {
    let gradient = gradients.get(value.name);
    if (!gradient) {
      // The loss does not depend on it (e.g. an unused parameter): its gradient is zero, said explicitly.
      const dims = value.shape?.map((dim) => (typeof dim === 'number' ? dim : NaN)) ?? [];
      if (dims.some(Number.isNaN)) throw new UserError('unsupported', `The loss does not depend on ${value.name}, whose shape is not static.`);
      gradient = expand(g, g.scalar(0, value.dtype), dims);
    }
    result.set(value.name, gradient);
  }
  // Forward activations (values of forward nodes that change with the data) that backward nodes read;
  // weight-derived values (folded transposes) are weights, not activations.
  const kept = new Set<string>();
  for (const node of g.nodes.slice(nodes.length)) for (const input of node.inputs) if (input && producers.has(input.name) && recompute.isDynamic(input.name)) kept.add(input.name);
  let keptBytes = 0;
  for (const name of kept) {
    const value = g.value(name);
    if (value?.shape?.every((dim) => typeof dim === 'number')) keptBytes += byteLengthOf(value.dtype, value.shape as number[]);
  }
  return { gradients: result, stats: { visited, recomputed: recompute.recomputedNodes, segments: recompute.segmentCount, keptSegments: recompute.keptSegments, keptBytes, workingBytes: recompute.largestSegmentBytes(), filterCopyBytes: copied.bytes, convolutionsOnCopies: copied.nodes.size } };
}

/**
 * The convolutions whose input gradient reads a filter copy: those the rule can take that way
 * (convInputGradientAsConv) with a frozen filter and an input on the gradient path. Ranked by output
 * positions (work per filter byte), then by name; a filter shared by several convolutions is paid once.
 */
function chooseFilterCopies(
  nodes: readonly Node[],
  budgetBytes: number,
  onPath: (value: Value | undefined) => boolean,
  frozen: (value: Value) => boolean,
): { readonly nodes: ReadonlySet<string>; readonly bytes: number } {
  const chosen = new Set<string>();
  if (!(budgetBytes > 0)) return { nodes: chosen, bytes: 0 };
  const candidates: { node: Node; positions: number; filter: Value; bytes: number }[] = [];
  for (const node of nodes) {
    if (!convInputGradientAsConv(node)) continue;
    const [x, filter] = node.inputs;
    if (!x || !filter || !onPath(x) || !frozen(filter)) continue;
    const positions = numericShape(node.outputs[0]!)!.slice(2).reduce((a, b) => a * b, 1);
    candidates.push({ node, positions, filter, bytes: byteLengthOf(filter.dtype, numericShape(filter)!) });
  }
  candidates.sort((a, b) => b.positions - a.positions || (a.node.name < b.node.name ? -1 : a.node.name > b.node.name ? 1 : 0));
  const paid = new Set<string>();
  let bytes = 0;
  for (const candidate of candidates) {
    const cost = paid.has(candidate.filter.name) ? 0 : candidate.bytes;
    if (bytes + cost > budgetBytes) continue;
    bytes += cost;
    paid.add(candidate.filter.name);
    chosen.add(candidate.node.name);
  }
  return { nodes: chosen, bytes };
}

/** Multiply-adds ×2 of a node, roughly: what recomputing it costs (see Recomputation.segmentsToKeep). */
function arithmetic(node: Node): number {
  const dims = (value: Value | undefined) => (value ? numericShape(value) : undefined);
  const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
  const out = dims(node.outputs[0]);
  if (!out) return 0;
  const [a, b] = [dims(node.inputs[0]), dims(node.inputs[1])];
  if (node.op === 'Conv' && b) return 2 * count(b) * count(out.slice(2)) * out[0]!;
  if ((node.op === 'MatMul' || node.op === 'Gemm') && a && b) {
    const transA = node.attrs.transA;
    const k = node.op === 'Gemm' && transA && transA.type === 'int' && transA.value === 1 ? a[0]! : a[a.length - 1]!;
    return 2 * count(out) * k;
  }
  if (node.op === 'MultiHeadAttention' && a && b) return 4 * count(a) * b[b.length - 2]!;
  return count(out);
}

/** `x` broadcast to the shape of `like` (static when known, else read at run time). */
function broadcastLike(g: Graph, x: Value, like: Value): Value {
  const dims = like.shape?.every((dim) => typeof dim === 'number') ? (like.shape as number[]) : undefined;
  if (dims) return expand(g, x, dims);
  return g.node({ op: 'Expand', inputs: [x, shapeOf(g, like)], outputs: [{ dtype: x.dtype, shape: like.shape }] })[0]!;
}

/**
 * Segments between checkpoints, and their recomputed copies made on first use. A value maps to its
 * copy when its producer lies inside a recomputed segment; everything else maps to itself.
 */
class Recomputation {
  recomputedNodes = 0;
  /** End position (inclusive) of each segment, ascending; the tail after the last is not recomputed. */
  private readonly ends: number[];
  /** Segments kept instead of recomputed (BackwardOptions.keepShare), by index into `ends`. */
  private readonly kept: ReadonlySet<number>;
  private readonly copies = new Map<number, Map<string, Value>>();
  /** Values that change from step to step (depend on a data input); constants are never recomputed. */
  private readonly dynamic = new Set<string>();

  constructor(
    private readonly g: Graph,
    private readonly nodes: readonly Node[],
    private readonly producers: ReadonlyMap<string, Producer>,
    checkpoints: readonly Value[],
    keepShare: number,
  ) {
    const ends = checkpoints.map((checkpoint) => {
      const producer = producers.get(checkpoint.name);
      if (!producer) throw new UserError('invalid-argument', `Checkpoint ${checkpoint.name} is not produced by a node of graph '${g.name}'.`);
      return producer.position;
    });
    // Data inputs change every step; parameters are read as they are (their transposes and casts are
    // parameter-sized and stay alive anyway).
    const parameters = new Set(g.parameters.map((parameter) => parameter.value.name));
    for (const input of g.inputs) if (!parameters.has(input.name)) this.dynamic.add(input.name);
    for (const node of nodes) {
      if (node.inputs.some((input) => input && this.dynamic.has(input.name))) for (const output of node.outputs) this.dynamic.add(output.name);
    }
    this.ends = [...new Set(ends)].sort((a, b) => a - b);
    this.kept = this.segmentsToKeep(this.ends, keepShare);
  }

  /** Segments recomputed, and segments kept instead. */
  get segmentCount(): number {
    return this.ends.length - this.kept.size;
  }

  get keptSegments(): number {
    return this.kept.size;
  }

  /**
   * The segments with the most arithmetic per byte of activations, up to `share` of all segments' bytes.
   * Arithmetic: 2·|W|·positions for a Conv, 2·M·N·K for MatMul and Gemm, 4·B·L·S·C for attention, one
   * per output element otherwise (static shapes; a node without them counts as its output elements).
   */
  private segmentsToKeep(ends: readonly number[], share: number): Set<number> {
    const kept = new Set<number>();
    if (!(share > 0) || ends.length === 0) return kept;
    const segments = ends.map((end, segment) => {
      const start = segment === 0 ? 0 : ends[segment - 1]! + 1;
      let bytes = 0;
      let work = 0;
      for (let position = start; position <= end; position++) {
        const node = this.nodes[position]!;
        if (!node.outputs.some((output) => this.dynamic.has(output.name))) continue;
        bytes += this.dynamicBytes(node);
        work += arithmetic(node);
      }
      return { segment, bytes, work };
    });
    const total = segments.reduce((sum, entry) => sum + entry.bytes, 0);
    let spent = 0;
    for (const entry of [...segments].sort((a, b) => b.work / Math.max(b.bytes, 1) - a.work / Math.max(a.bytes, 1) || a.segment - b.segment)) {
      if (spent + entry.bytes > share * total) continue;
      spent += entry.bytes;
      kept.add(entry.segment);
    }
    return kept;
  }

  private dynamicBytes(node: Node): number {
    let bytes = 0;
    for (const output of node.outputs) {
      const shape = numericShape(output);
      if (this.dynamic.has(output.name) && shape) bytes += byteLengthOf(output.dtype, shape);
    }
    return bytes;
  }

  /** Whether a value depends on a data input (an activation), as opposed to weights and constants. */
  isDynamic(name: string): boolean {
    return this.dynamic.has(name);
  }

  /** The largest recomputed segment's dynamic forward values, bytes (static shapes only). */
  largestSegmentBytes(): number {
    let largest = 0;
    for (let segment = 0; segment < this.ends.length; segment++) {
      if (this.kept.has(segment)) continue;
      const start = segment === 0 ? 0 : this.ends[segment - 1]! + 1;
      let bytes = 0;
      for (let position = start; position <= this.ends[segment]!; position++) bytes += this.dynamicBytes(this.nodes[position]!);
      largest = Math.max(largest, bytes);
    }
    return largest;
  }

  /** The recomputed segment of a node position, or -1 for a kept segment and the tail (not recomputed). */
  private segmentOf(position: number): number {
    for (let segment = 0; segment < this.ends.length; segment++) if (position <= this.ends[segment]!) return this.kept.has(segment) ? -1 : segment;
    return -1;
  }

  /** How the backward of the node at `position` reads forward values; `arriving` orders the recomputation. */
  viewAt(position: number, arriving: Value): (value: Value) => Value {
    const segment = this.segmentOf(position);
    if (segment < 0) return (value) => value;
    let copies = this.copies.get(segment);
    if (!copies) {
      copies = this.copySegment(segment, arriving);
      this.copies.set(segment, copies);
    }
    const map = copies;
    return (value) => map.get(value.name) ?? value;
  }

  private copySegment(segment: number, arriving: Value): Map<string, Value> {
    const g = this.g;
    const start = segment === 0 ? 0 : this.ends[segment - 1]! + 1;
    const end = this.ends[segment]!;
    const copies = new Map<string, Value>();
    const entries = new Map<string, Value>();
    return g.scope(`recompute${segment}`, () => {
      // One scalar from the arriving gradient, times zero: the dependency that orders the recomputation.
      const rank = arriving.shape?.length ?? 0;
      const first = rank === 0 ? arriving : reshape(g, slice(g, arriving, new Array<number>(rank).fill(0), new Array<number>(rank).fill(1)), []);
      const tie = mul(g, first, 0);
      const entryOf = (value: Value): Value => {
        let tied = entries.get(value.name);
        if (!tied) {
          tied = value.dtype === arriving.dtype ? add(g, value, tie) : value;
          entries.set(value.name, tied);
        }
        return tied;
      };
      for (let position = start; position <= end; position++) {
        const node = this.nodes[position]!;
        if (!node.outputs.some((output) => this.dynamic.has(output.name))) continue;
        const inputs = node.inputs.map((input) => {
          if (!input) return undefined;
          const copy = copies.get(input.name);
          if (copy) return copy;
          if (!this.dynamic.has(input.name)) return input;
          const producer = this.producers.get(input.name);
          // Produced before this segment (or a graph input): read it, tied to the arriving gradient.
          if (!producer || producer.position < start) return entryOf(input);
          return input;
        });
        const outputs = this.g.node({
          op: node.op,
          domain: node.domain,
          inputs,
          outputs: node.outputs.map((output) => ({ dtype: output.dtype, shape: output.shape })),
          attrs: node.attrs,
        });
        this.recomputedNodes++;
        node.outputs.forEach((output, index) => copies.set(output.name, outputs[index]!));
      }
      return copies;
    });
  }
}
