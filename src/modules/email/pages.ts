import { readFile } from 'node:fs/promises';
import path from 'node:path';
import Handlebars from 'handlebars';

export type PageName = 'unsubscribe' | 'unsubscribed' | 'link-invalid';

const hb = Handlebars.create();
const cache = new Map<string, Promise<Handlebars.TemplateDelegate>>();

function compiled(templatesDir: string, name: string): Promise<Handlebars.TemplateDelegate> {
  const file = path.join(templatesDir, 'pages', `${name}.hbs`);
  let p = cache.get(file);
  if (!p) {
    p = readFile(file, 'utf8').then((src) => hb.compile(src));
    // a failed read is not cached, so a fixed deployment recovers without a restart
    p.catch(() => cache.delete(file));
    cache.set(file, p);
  }
  return p;
}

/** A small server-rendered page (templates/pages), escaped by default, with no script at all. */
export async function renderPage(
  templatesDir: string,
  name: PageName,
  title: string,
  context: Record<string, unknown> = {},
): Promise<string> {
  const [layout, page] = await Promise.all([compiled(templatesDir, 'layout'), compiled(templatesDir, name)]);
  return layout({ title, body: page(context) });
}
