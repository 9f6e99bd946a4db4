import request from 'supertest';

/** A browser-like agent: keeps cookies, reads the CSRF token from each page. */
export function browser(app: Parameters<typeof request.agent>[0]) {
  const agent = request.agent(app);
  let csrf = '';
  const readCsrf = (html: string) => {
    const m = /name="_csrf" value="([^"]+)"/.exec(html) ?? /name="csrf-token" content="([^"]+)"/.exec(html);
    if (m) csrf = m[1]!;
  };
  return {
    agent,
    get csrf() {
      return csrf;
    },
    async get(path: string) {
      const res = await agent.get(path);
      readCsrf(res.text ?? '');
      return res;
    },
    async post(path: string, form: Record<string, string | string[]>, withCsrf = true) {
      const res = await agent
        .post(path)
        .type('form')
        .send({ ...(withCsrf ? { _csrf: csrf } : {}), ...form });
      readCsrf(res.text ?? '');
      return res;
    },
    async signIn(key: string) {
      await this.get('/app/login');
      return this.post('/app/login', { key });
    },
  };
}
