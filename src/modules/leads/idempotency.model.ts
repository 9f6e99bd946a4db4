import mongoose, { Schema } from 'mongoose';

/**
 * An `Idempotency-Key` claim (Stripe's behaviour): the first request with a key inserts this
 * document (the unique index makes exactly one request the owner, on every server), then stores
 * its answer; repeats get that answer, a different body with the same key gets 409.
 */
const idempotencySchema = new Schema(
  {
    /** `${apiKeyId}:${route}:${Idempotency-Key}`: keys are per caller and per endpoint */
    key: { type: String, required: true },
    requestHash: { type: String, required: true },
    state: { type: String, enum: ['pending', 'done'], default: 'pending' },
    status: { type: Number, default: null },
    body: { type: Schema.Types.Mixed, default: null },
  },
  { timestamps: true, strict: true, minimize: false },
);

// the claim: one owner per key
idempotencySchema.index({ key: 1 }, { unique: true });
// purging keys older than a day (not a TTL index: FerretDB v1 has none)
idempotencySchema.index({ createdAt: 1 });

/** How long a key is honoured; an older claim is treated as absent. */
export const idempotencyTtlMs = 24 * 3600 * 1000;

export const IdempotencyKey = mongoose.model('IdempotencyKey', idempotencySchema);
