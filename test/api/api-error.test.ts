import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toErrorData, withoutPaths } from '../../app/api/api-error.ts';
import { EngineError, UserError } from '../../app/common/errors.ts';

test('absolute paths in error messages are reduced to file names; other slashes stay', () => {
  assert.equal(
    withoutPaths('onnxruntime could not load /home/ada/.local/share/afa-studio/models/3f2a/unet.onnx on cpu: Load model from /home/ada/.local/share/afa-studio/models/3f2a/unet.onnx failed.'),
    'onnxruntime could not load unet.onnx on cpu: Load model from unet.onnx failed.',
  );
  assert.equal(withoutPaths('Cannot read C:\\Users\\ada\\models\\dream.safetensors.'), 'Cannot read dream.safetensors.');
  assert.equal(withoutPaths('(/srv/models/a.ckpt) is damaged'), '(a.ckpt) is damaged');
  for (const kept of ['Pick the folder that holds unet/, text_encoder/ or vae/ config.json.', 'See https://example.com/docs/x.', 'width/height must be multiples of 8']) {
    assert.equal(withoutPaths(kept), kept);
  }
});

test('every error crossing the API boundary loses its paths, hints too', () => {
  assert.equal(toErrorData(new EngineError('The model file /tmp/h/models/x/unet.onnx cannot be read: truncated.')).message, 'The model file unet.onnx cannot be read: truncated.');
  const user = toErrorData(new UserError('not-found', 'No file /data/in/a.safetensors.', 'Check /data/in/a.safetensors exists.'));
  assert.deepEqual(user, { name: 'UserError', code: 'not-found', message: 'No file a.safetensors.', hint: 'Check a.safetensors exists.' });
});
