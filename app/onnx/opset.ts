// The ONNX opset every graph is built and saved for, and the IR version that goes with it.
// Opset 21 is the highest for which onnxruntime-node 1.30's CPU provider registers a kernel for every op
// in app/onnx/ops.ts (test/onnx/opset.test.ts checks each op loads and runs at this opset). It gives
// ReduceMean with `axes` as an input (opset 18) and the exact Gelu op (opset 20).
export const OPSET = 21;

/** onnx/helper.py VERSION_TABLE: opset 21 ↔ IR version 10 (ONNX 1.16). */
export const IR_VERSION = 10;
