import type { Request, Response } from 'express';
import type { AppDeps } from '../lib/app-types.js';

/** What every page module is built from: the app's deps plus the CSRF token maker. */
export type WebDeps = AppDeps & { csrfToken: (req: Request, res: Response) => string };

/** A page handler: web routes are async and their errors reach the web error handler. */
export type Page = (req: Request, res: Response) => Promise<void>;
export const page =
  (fn: Page) =>
  (req: Request, res: Response, next: (err?: unknown) => void): void => {
    fn(req, res).catch(next);
  };
