import mongoose, { Schema, type InferSchemaType } from 'mongoose';

export const roles = ['admin', 'marketing', 'sales'] as const;
export type Role = (typeof roles)[number];

const apiKeySchema = new Schema(
  {
    name: { type: String, required: true, maxlength: 200 },
    role: { type: String, enum: roles, required: true },
    /** sha256 of the key; the key itself is shown once and never stored */
    hash: { type: String, required: true },
    /** first characters of the key, so people can tell keys apart */
    prefix: { type: String, required: true },
    revokedAt: { type: Date, default: null },
    lastUsedAt: { type: Date, default: null },
  },
  { timestamps: true, strict: true },
);
// authentication: find the key by the hash of what was presented
apiKeySchema.index({ hash: 1 }, { unique: true });

export type ApiKeyDoc = InferSchemaType<typeof apiKeySchema>;
export const ApiKey = mongoose.model('ApiKey', apiKeySchema);
