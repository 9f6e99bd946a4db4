export { importRoutes } from './imports.routes.js';
export { importQuery, toLeadInput } from './imports.schemas.js';
export {
  importCsv,
  getImport,
  rowEventKey,
  type ImportOptions,
  type ImportReport,
  type ImportProgress,
  type RejectedRow,
} from './imports.service.js';
export { Import, type ImportDoc } from './import.model.js';
export { mapHeader, headerKey, safeAttributeKey, type HeaderMapping } from './header-map.js';
export { readCsv, detectDelimiter } from './csv-reader.js';
