// The ensemble graphs declare every intermediate shape: onnxruntime's memory planner reuses buffers only
// between values of equal declared shapes, and without them session creation of the 7,788-node AFA graph
// grew with the square of the node count (20 s on the tiny golden experts; now under 2 s).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadAggregatorSet } from '../../app/ensemble/aggregator-set.ts';
import { buildLockStepGraph, buildOutputAverageGraph } from '../../app/ensemble/lock-step-graph.ts';
import { openDiffusersComponent } from '../../app/models/diffusers-folder.ts';
import { parseUnetConfig } from '../../app/models/unet-config.ts';
import type { Graph } from '../../app/onnx/graph.ts';
import { encodeModel, onnx, reachable } from '../../app/onnx/model-proto.ts';
import { isUnknownDim } from '../../app/onnx/shapes.ts';
import { goldenAfaDir } from './golden-experts.ts';

const components = ['unet', 'additional_unet_0', 'additional_unet_1'].map((folder) => openDiffusersComponent(join(goldenAfaDir, folder), parseUnetConfig));
const experts = components.map(({ weights, config }) => ({ weights, config }));
after(() => components.forEach((component) => component.close()));

/** Names of the values the graph's outputs need whose shape has a dim the builder could not name. */
function undeclared(graph: Graph): string[] {
  return reachable(graph)
    .nodes.flatMap((node) => node.outputs)
    .filter((value) => !value.shape || value.shape.some(isUnknownDim))
    .map((value) => value.name);
}

describe('ensemble graphs declare their intermediate shapes', () => {
  it('AFA (with the golden aggregators), feature average and output average: no unknown dim', () => {
    const graphs = [
      buildLockStepGraph(experts, { kind: 'aggregators', aggregators: loadAggregatorSet(goldenAfaDir) }),
      buildLockStepGraph(experts, { kind: 'mean' }),
      buildOutputAverageGraph(experts, [0.5, 0.25, 0.25]),
    ];
    for (const graph of graphs) assert.deepEqual(undeclared(graph).slice(0, 5), [], graph.name);
  });

  it('the saved feature-average model lists them as value_info, spatial dims by formula', () => {
    const graph = buildLockStepGraph(experts, { kind: 'mean' });
    const data = new Map(graph.initializers.map((init) => [init.value.name, { kind: 'external' as const, location: 'w', offset: 0, length: 0 }]));
    const model = onnx.ModelProto.decode(encodeModel(graph, data));
    const declared = model.graph?.valueInfo ?? [];
    assert.equal(declared.length, reachable(graph).nodes.flatMap((node) => node.outputs).length - graph.outputs.length);
    const params = new Set(declared.flatMap((info) => (info.type?.tensorType?.shape?.dim ?? []).map((dim) => dim.dimParam).filter(Boolean)));
    for (const name of ['batch', 'height', 'ceil(height/2)', 'ceil((ceil((ceil(height/2))/2))/2)', 'tokens']) assert.ok(params.has(name), name);
  });
});
