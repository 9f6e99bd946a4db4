export {
  renderEmail,
  templateNamePattern,
  type EmailContent,
  type RenderLead,
  type RenderedEmail,
} from './render.js';
export { signToken, verifyToken, type TokenPayload } from './tokens.js';
