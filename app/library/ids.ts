// Text ids: a type prefix and a ULID-style body — 10 Crockford base-32 characters of the time in ms,
// then 16 of randomness — so ids sort roughly by creation and never collide across processes.
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export function newId(prefix: string, now: number = Date.now()): string {
  let time = '';
  let value = Math.max(0, Math.floor(now));
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[value % 32] + time;
    value = Math.floor(value / 32);
  }
  const random = randomBytes(16);
  let tail = '';
  for (const byte of random) tail += ALPHABET[byte & 31];
  return `${prefix}_${time}${tail}`;
}
