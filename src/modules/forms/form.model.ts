import mongoose, { Schema, type InferSchemaType, type Types } from 'mongoose';

/** A web form that posts to `POST /f/:formId` (Web-to-Lead). */
const formSchema = new Schema(
  {
    /** the id in `/f/:formId`, chosen by marketing */
    formId: { type: String, required: true },
    name: { type: String, required: true },
    /** where a browser goes after a successful submission (303) */
    redirectUrl: { type: String, default: null },
    /** origins allowed to post (CORS and the Origin check); empty: any */
    allowedOrigins: { type: [String], default: [] },
    /** honour Web-to-Lead's `retURL` when it is on redirectUrl's or an allowed origin */
    allowRetUrl: { type: Boolean, default: false },
    source: { type: String, default: null },
    fields: {
      // `bant`: the BANT answer (budget, authority, need, timeline) this field's value is
      type: [new Schema({ name: String, label: String, required: Boolean, bant: String }, { _id: false })],
      default: [],
    },
    /** a sequence to enroll new leads into */
    sequence: { type: String, default: null },
    honeypot: { type: String, default: '_hp' },
    minFillSeconds: { type: Number, default: 0 },
    /** `subscriber`: a newsletter-only form; its submissions create subscribers, not leads */
    stage: { type: String, default: null },
  },
  { timestamps: true, strict: true },
);

// PUT/GET /api/forms/:formId and every submission: one form per id
formSchema.index({ formId: 1 }, { unique: true });

export type FormDoc = InferSchemaType<typeof formSchema> & { _id: Types.ObjectId };
export const Form = mongoose.model('Form', formSchema);
