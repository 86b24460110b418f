// The inference thread's worker (app/runtime/inference-thread.ts): opens sessions with LocalSession
// (app/runtime/onnx-runtime.ts, the only importer of onnxruntime-node) and runs them on this thread.
import { parentPort } from 'node:worker_threads';
import type { InferenceReply, InferenceRequest } from './inference-thread.ts';
import { deviceTensorCountLocal, disposeLocal, downloadLocal, LocalSession, uploadLocal, type SessionOptions } from './onnx-runtime.ts';
import { forwardRuntimeLog } from './runtime-log.ts';
import { adamwSlice } from '../optimizer/adamw-kernel.ts';

const port = parentPort;
if (!port) throw new Error('inference-worker.ts runs as a worker thread (app/runtime/inference-thread.ts starts it).');

// Session lines (provider, rewrites) belong in the main thread's engine log.
forwardRuntimeLog((message) => port.postMessage({ log: message }));

const sessions = new Map<number, LocalSession>();
let nextSession = 1;

async function handle(request: InferenceRequest): Promise<unknown> {
  switch (request.op) {
    case 'create': {
      const session = await LocalSession.create(request.modelPath, request.options as SessionOptions);
      const id = nextSession++;
      sessions.set(id, session);
      return { session: id, inputNames: session.inputNames, outputNames: session.outputNames, source: session.source };
    }
    case 'run': {
      const session = sessions.get(request.session);
      if (!session) throw new Error('That session was released.');
      return session.run(request.feeds, request.outputs, request.keep);
    }
    case 'upload':
      return uploadLocal(request.tensor, request.backend);
    case 'download':
      return downloadLocal(request.handle, request.backend);
    case 'dispose':
      disposeLocal(request.handles);
      return undefined;
    case 'device-count':
      return deviceTensorCountLocal();
    case 'adamw':
      for (const slice of request.slices) adamwSlice(slice, request.scalars);
      return undefined;
    case 'release': {
      const session = sessions.get(request.session);
      sessions.delete(request.session);
      await session?.release();
      return undefined;
    }
  }
}

/**
 * The buffers a run's outputs own outright, to move to the main thread instead of copying them: fresh
 * output tensors that nothing here keeps (a training step's gradients are as large as the trainable
 * parameters; a copy of them cost a pass over fresh memory, page faults included, at every step).
 * Views into a shared pool (onnxruntime-node hands out small outputs as slices) stay copies.
 */
function ownedBuffers(request: InferenceRequest, value: unknown): ArrayBuffer[] {
  if (request.op !== 'run' && request.op !== 'download') return [];
  const tensors = request.op === 'download' ? [value] : Object.values(value as Record<string, unknown>);
  const buffers = new Set<ArrayBuffer>();
  for (const tensor of tensors) {
    const data = (tensor as { data?: unknown } | undefined)?.data;
    if (!ArrayBuffer.isView(data) || !(data.buffer instanceof ArrayBuffer)) continue;
    if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.byteLength >= MOVE_BYTES) buffers.add(data.buffer);
  }
  return [...buffers];
}

/** Outputs smaller than this are copied (a copy is cheaper than the bookkeeping). */
const MOVE_BYTES = 64 * 1024;

function reply(message: InferenceRequest & { id: number }, value: unknown): void {
  const answer = { id: message.id, ok: true, value } satisfies InferenceReply;
  const buffers = ownedBuffers(message, value);
  if (buffers.length === 0) return port!.postMessage(answer);
  try {
    port!.postMessage(answer, buffers);
  } catch {
    // A buffer that cannot be detached (memory onnxruntime-node owns): copy them all instead.
    port!.postMessage(answer);
  }
}

port.on('message', (message: InferenceRequest & { id: number }) => {
  handle(message).then(
    (value) => reply(message, value),
    (error: unknown) => {
      const failure = error instanceof Error ? error : new Error(String(error));
      const extra = failure as { code?: unknown; hint?: unknown };
      port.postMessage({
        id: message.id,
        ok: false,
        error: {
          name: failure.name,
          message: failure.message,
          ...(typeof extra.code === 'string' ? { code: extra.code as never } : {}),
          ...(typeof extra.hint === 'string' ? { hint: extra.hint } : {}),
        },
      } satisfies InferenceReply);
    },
  );
});
