// The ONNX opset every graph is built and saved for, and the IR version that goes with it.
// onnxruntime-node 1.30 bundles ONNX 1.21: it loads opset ≤ 26 and IR version ≤ 13 (it refuses opset 27
// and IR 14), and its CPU provider has a kernel at opset 26 for every op in app/onnx/ops.ts (each op test
// in test/onnx/ runs at this opset). The graph optimizer produced the same fused graph for an SD
// resnet + transformer block at opsets 20–26, so the newest costs nothing. Gelu needs opset ≥ 20.
export const OPSET = 26;

/** onnx/helper.py VERSION_TABLE: ONNX 1.21 ↔ IR version 13, opset 26. */
export const IR_VERSION = 13;
