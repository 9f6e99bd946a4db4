import mongoose, { Schema, type InferSchemaType, type Types } from 'mongoose';

export const importStatuses = ['running', 'completed', 'failed'] as const;

/** How many rejected rows an Import keeps (counts stay exact; the CLI writes every one to a file). */
export const rejectedSampleSize = 100;

const rejectedRowSchema = new Schema(
  { row: { type: Number, required: true }, reasons: { type: [String], default: [] } },
  { _id: false },
);

/** One CSV import: what was asked, what happened, and a sample of what was refused. */
const importSchema = new Schema(
  {
    source: { type: String, required: true },
    sequenceKey: { type: String, default: null },
    /** a file name given by the CLI; null over HTTP */
    fileName: { type: String, default: null },
    /** who asked: an API key id, or "cli" */
    createdBy: { type: String, default: null },
    status: { type: String, enum: importStatuses, default: 'running' },
    /** data rows read (the header not counted); created + merged + rejected = rows */
    rows: { type: Number, default: 0 },
    created: { type: Number, default: 0 },
    merged: { type: Number, default: 0 },
    /** of `merged`: rows already imported before with the same content, so nothing was written */
    unchanged: { type: Number, default: 0 },
    rejected: { type: Number, default: 0 },
    bytes: { type: Number, default: 0 },
    ignoredColumns: { type: [String], default: [] },
    rejectedRows: { type: [rejectedRowSchema], default: [] },
    error: { type: String, default: null },
    finishedAt: { type: Date, default: null },
  },
  { timestamps: true, strict: true },
);

// GET /api/imports/:id is served by the default _id index; no other query reads imports yet.

export type ImportDoc = InferSchemaType<typeof importSchema> & { _id: Types.ObjectId };
export const Import = mongoose.model('Import', importSchema);
