// The CLIP text encoder description: transformers' CLIPTextConfig field names (text_encoder/config.json).
import { ConfigReader } from './config-reader.ts';

export interface ClipTextConfig {
  readonly vocab_size: number;
  readonly hidden_size: number;
  readonly intermediate_size: number;
  readonly num_hidden_layers: number;
  readonly num_attention_heads: number;
  /** Sequence length of the graph input: SD pads every prompt to 77 tokens. */
  readonly max_position_embeddings: number;
  /** 'quick_gelu' (OpenAI CLIP, SD1.x) or exact 'gelu' (OpenCLIP). */
  readonly hidden_act: 'quick_gelu' | 'gelu';
  readonly layer_norm_eps: number;
  /**
   * Selects the pooled token. transformers 4.33: eos_token_id == 2 (the legacy value SD1.x configs
   * carry) pools at argmax(input_ids), i.e. the first highest id, which is CLIP's end token; any other
   * value pools at the first position holding eos_token_id.
   */
  readonly eos_token_id: number;
}

/** openai/clip-vit-large-patch14's text model, as in runwayml/stable-diffusion-v1-5 text_encoder/config.json. */
export const SD15_TEXT_ENCODER_CONFIG: ClipTextConfig = Object.freeze({
  vocab_size: 49408,
  hidden_size: 768,
  intermediate_size: 3072,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  max_position_embeddings: 77,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
  eos_token_id: 2,
});

export function parseClipTextConfig(json: unknown, source = 'text encoder config.json'): ClipTextConfig {
  const reader = new ConfigReader(json, source);
  reader.refuse('model_type', ['clip_text_model'], 'text encoders other than CLIP');
  const config: ClipTextConfig = {
    vocab_size: reader.integer('vocab_size', 49408),
    hidden_size: reader.integer('hidden_size', 512),
    intermediate_size: reader.integer('intermediate_size', 2048),
    num_hidden_layers: reader.integer('num_hidden_layers', 12),
    num_attention_heads: reader.integer('num_attention_heads', 8),
    max_position_embeddings: reader.integer('max_position_embeddings', 77),
    hidden_act: reader.choice('hidden_act', ['quick_gelu', 'gelu'], 'quick_gelu'),
    layer_norm_eps: reader.number('layer_norm_eps', 1e-5),
    eos_token_id: reader.integer('eos_token_id', 2, 0),
  };
  if (config.hidden_size % config.num_attention_heads !== 0) {
    throw reader.mismatch(`hidden_size ${config.hidden_size} is not divisible by num_attention_heads ${config.num_attention_heads}`);
  }
  return Object.freeze(config);
}
