import mongoose, { Schema } from 'mongoose';

/**
 * A capture whose `lead-captured` job has not been processed yet: written before the lead is
 * created or filled (so no lead is ever written without it), deleted by the job's processor. What is left here after a minute lost its job (Redis
 * refused the enqueue, the process died) and the reconciler enqueues it again. The collection only
 * holds captures in flight, so the reconciler's query stays cheap however many leads exist.
 */
const pendingCaptureSchema = new Schema(
  {
    /** the lead id */
    _id: { type: String, required: true },
    /** the lead-captured payload to enqueue again (ids and keys only) */
    payload: { type: Schema.Types.Mixed, required: true },
    at: { type: Date, required: true },
  },
  { strict: true, versionKey: false, minimize: false, collection: 'pendingcaptures' },
);
pendingCaptureSchema.index({ at: 1 });

export const PendingCapture = mongoose.model('PendingCapture', pendingCaptureSchema);
