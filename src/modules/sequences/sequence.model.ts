import mongoose, { Schema, type InferSchemaType, type Types } from 'mongoose';

/**
 * One immutable version of a sequence definition. Every PUT adds a version; enrollments keep the
 * version they started on. The (key, version) unique index is what makes two concurrent PUTs get
 * two different versions (the loser retries with the next number).
 */
const sequenceVersionSchema = new Schema(
  {
    key: { type: String, required: true },
    version: { type: Number, required: true },
    /** the validated definition as PUT (zod output, defaults filled in) */
    definition: { type: Schema.Types.Mixed, required: true },
    /** copied out of the definition so lead-captured can find sequences by trigger */
    enrollFormIds: { type: [String], default: [] },
    enrollSources: { type: [String], default: [] },
  },
  { timestamps: { createdAt: true, updatedAt: false }, strict: true, minimize: false },
);

// GET /api/sequences/:key (latest: sort version desc) and the version an enrollment runs on
sequenceVersionSchema.index({ key: 1, version: -1 }, { unique: true });
// lead-captured: sequences whose enroll trigger names this form
sequenceVersionSchema.index({ enrollFormIds: 1 });
// lead-captured: sequences whose enroll trigger names this source
sequenceVersionSchema.index({ enrollSources: 1 });

export type SequenceVersionDoc = InferSchemaType<typeof sequenceVersionSchema> & { _id: Types.ObjectId };
export const SequenceVersion = mongoose.model('SequenceVersion', sequenceVersionSchema);
