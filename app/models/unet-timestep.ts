// The U-Net graphs take the timestep as float32 [batch]. diffusers accepts a Python number or a 0-d or
// [B] tensor of any dtype, broadcasts it to the batch (`timesteps.expand(sample.shape[0])`) and converts
// it with `.float()` inside get_timestep_embedding; this does the same on the host, so integer (DDIM,
// PNDM, DPM), float64 (Euler, LMS) and float32 timesteps all reach the graph exactly as diffusers
// rounds them (int64 → float32 is exact below 2^24; float64 → float32 rounds to nearest like .float()).
import { UserError } from '../common/errors.ts';
import { describeShape, float32, sizeOf, type Tensor } from '../tensor/tensor.ts';

export function unetTimestep(timestep: number | Tensor, batch: number): Tensor<'float32'> {
  if (typeof timestep === 'number') return float32([batch], new Float32Array(batch).fill(timestep));
  const count = sizeOf(timestep.shape);
  if (timestep.shape.length > 1 || (count !== 1 && count !== batch)) {
    throw new UserError(
      'invalid-argument',
      `A U-Net timestep must be a number, a 0-d tensor or one value per batch row (${batch}); got shape ${describeShape(timestep.shape)}.`,
    );
  }
  if (timestep.dtype !== 'float32' && timestep.dtype !== 'float64' && timestep.dtype !== 'int64' && timestep.dtype !== 'int32') {
    throw new UserError('invalid-argument', `A U-Net timestep must be an int64, int32, float32 or float64 tensor, got ${timestep.dtype}.`);
  }
  const values = Array.from(timestep.data as ArrayLike<number | bigint>, (value) => Number(value));
  const result = new Float32Array(batch);
  for (let row = 0; row < batch; row++) result[row] = values[count === 1 ? 0 : row];
  return float32([batch], result);
}
