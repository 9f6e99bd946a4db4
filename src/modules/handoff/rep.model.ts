import mongoose, { Schema, type InferSchemaType } from 'mongoose';

/** A salesperson handoffs are assigned to. `_id` is the id of `PUT /api/reps/:id`. */
const repSchema = new Schema(
  {
    _id: { type: String, required: true },
    name: { type: String, required: true },
    email: { type: String, required: true },
    active: { type: Boolean, default: true },
    /** lead field (or custom attribute) → the values this rep takes, e.g. `{country: ["DE","AT"]}` */
    match: { type: Schema.Types.Mixed, default: () => ({}) },
    /** most open (pending) handoffs at once; null is unlimited */
    capacity: { type: Number, default: null },
    /** round-robin: the least recently assigned rep goes next */
    lastAssignedAt: { type: Date, default: null },
  },
  { timestamps: true, strict: true, minimize: false },
);

export type RepDoc = InferSchemaType<typeof repSchema> & { _id: string };
export const Rep = mongoose.model('Rep', repSchema);
