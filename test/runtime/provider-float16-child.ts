// Run by provider-choice.test.ts with SwiftShader's adapter (its environment set before start): measures
// every provider, float16 included, and prints the measurements as one JSON line.
import { measureProviders } from '../../app/runtime/provider-choice.ts';

process.stdout.write(`${JSON.stringify(await measureProviders())}\n`);
