import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { addressRefusal } from '../../src/modules/webhooks/address-policy.js';
import { generateSecret, secretKey, signPayload } from '../../src/modules/webhooks/signature.js';
import { postWebhook } from '../../src/modules/webhooks/webhook-post.js';

describe('webhook address policy', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.100.100.200', 'carrier-grade NAT'],
    ['0.0.0.0', 'this network'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['fd00:ec2::254', 'unique local'],
    ['fe80::1', 'link-local'],
    ['ff02::1', 'multicast'],
    ['2002:c0a8:101::1', 'private'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['2001:db8::1', 'documentation'],
  ])('when the address is %s, then it is refused as %s', (ip, reason) => {
    expect(addressRefusal(ip)).toContain(reason);
  });

  it.each([
    '8.8.8.8',
    '93.184.215.14',
    '172.32.0.1',
    '100.128.0.1',
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
  ])('when the address is %s (public), then it is allowed', (ip) => {
    expect(addressRefusal(ip)).toBeUndefined();
  });
});

describe('webhook signatures', () => {
  it('when leadflow signs, then the standardwebhooks library verifies, and a wrong secret does not', () => {
    const secret = generateSecret();
    expect(secretKey(secret)).toHaveLength(24);
    const body = JSON.stringify({
      type: 'lead.qualified',
      timestamp: new Date().toISOString(),
      data: { leadId: 'x' },
    });
    const ts = Math.floor(Date.now() / 1000);
    const headers = {
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(ts),
      'webhook-signature': signPayload(secret, 'msg_1', ts, body),
    };
    expect(new StandardWebhook(secret).verify(body, headers)).toMatchObject({ type: 'lead.qualified' });
    // and both sides compute the same signature
    expect(new StandardWebhook(secret).sign('msg_1', new Date(ts * 1000), body)).toBe(
      headers['webhook-signature'],
    );
    expect(() => new StandardWebhook(generateSecret()).verify(body, headers)).toThrow();
  });

  it.each([
    'whsec_',
    'whsec_abc',
    `whsec_${Buffer.alloc(16).toString('base64')}`,
    `whsec_${Buffer.alloc(65).toString('base64')}`,
    `sk_${Buffer.alloc(24).toString('base64')}`,
    'whsec_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
  ])('when a secret is %s, then it is not accepted', (s) => {
    expect(secretKey(s)).toBeUndefined();
  });
});

describe('webhook settings', () => {
  it('when unset, then the schedule is 5s,5m,30m,2h,5h,10h,10h and private targets are refused', () => {
    const c = loadConfig({});
    expect(c.webhooks).toEqual({
      retryScheduleMs: [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000],
      allowPrivate: false,
      timeoutMs: 10_000,
    });
  });

  it('when set, then they are parsed; when malformed, then the key is named', () => {
    const c = loadConfig({ WEBHOOK_RETRY_SCHEDULE: ' 1s, 2m ,1d', WEBHOOK_ALLOW_PRIVATE: 'true' });
    expect(c.webhooks.retryScheduleMs).toEqual([1000, 120_000, 86_400_000]);
    expect(c.webhooks.allowPrivate).toBe(true);
    for (const [key, value] of [
      ['WEBHOOK_RETRY_SCHEDULE', '5s,,5m'],
      ['WEBHOOK_RETRY_SCHEDULE', '5 seconds'],
      ['WEBHOOK_RETRY_SCHEDULE', '-5s'],
      ['WEBHOOK_RETRY_SCHEDULE', Array(51).fill('1s').join(',')],
      ['WEBHOOK_ALLOW_PRIVATE', 'yes'],
      ['WEBHOOK_TIMEOUT_MS', '5'],
    ]) {
      expect(() => loadConfig({ [key!]: value }), `${key}=${value}`).toThrow(ConfigError);
      try {
        loadConfig({ [key!]: value });
      } catch (err) {
        expect((err as ConfigError).issues.map((i) => i.key)).toEqual([key]);
      }
    }
  });
});

describe('one webhook POST', () => {
  let server: http.Server;
  let base: string;
  const hits: string[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      hits.push(req.url ?? '');
      if (req.url === '/redirect') res.writeHead(302, { location: '/target' }).end();
      else if (req.url === '/slow') setTimeout(() => res.writeHead(200).end('late'), 5000).unref();
      else if (req.url === '/huge') {
        res.writeHead(500);
        res.end('x'.repeat(1_000_000));
      } else res.writeHead(200).end('fine');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const opts = { timeoutMs: 300, allowPrivate: true };

  it('when the receiver redirects, then the redirect is not followed and the attempt fails', async () => {
    const o = await postWebhook(`${base}/redirect`, '{}', {}, opts);
    expect(o).toMatchObject({
      ok: false,
      responseCode: 302,
      error: 'answered 302; redirects are not followed',
    });
    expect(hits).not.toContain('/target');
  });

  it('when the receiver does not answer in time, then the attempt fails as timed out', async () => {
    const o = await postWebhook(`${base}/slow`, '{}', {}, opts);
    expect(o).toMatchObject({ ok: false, responseCode: null, error: 'timed out' });
  });

  it('when the receiver answers a huge body, then only an excerpt is kept', async () => {
    const o = await postWebhook(`${base}/huge`, '{}', {}, { ...opts, timeoutMs: 5000 });
    expect(o).toMatchObject({ ok: false, responseCode: 500 });
    expect(o.responseExcerpt).toHaveLength(500);
  });

  it('when the receiver answers 200, then it is a delivery', async () => {
    expect(await postWebhook(`${base}/ok`, '{}', {}, opts)).toMatchObject({
      ok: true,
      responseCode: 200,
      responseExcerpt: 'fine',
    });
  });

  it('when private targets are refused, then a loopback receiver is not contacted', async () => {
    const before = hits.length;
    const o = await postWebhook(`${base}/ok`, '{}', {}, { ...opts, allowPrivate: false });
    expect(o).toMatchObject({
      ok: false,
      responseCode: null,
      error: 'refused: 127.0.0.1 is a loopback address',
    });
    const viaName = await postWebhook(
      `${base.replace('127.0.0.1', 'localhost')}/ok`,
      '{}',
      {},
      { ...opts, allowPrivate: false },
    );
    expect(viaName.error).toContain('refused: localhost');
    expect(hits.length).toBe(before);
  });
});
