import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { notFound } from '../../lib/errors.js';
import { ApiKey, type Role } from './api-key.model.js';

export type Principal = { keyId: string; name: string; role: Role; repId?: string };

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Creates an API key; the plain key is returned here only. */
export async function createApiKey(
  name: string,
  role: Role,
  repId?: string,
): Promise<{ id: string; key: string; role: Role; name: string; repId: string | null }> {
  const key = `lf_${randomBytes(24).toString('base64url')}`;
  const doc = await ApiKey.create({
    name,
    role,
    hash: hashKey(key),
    prefix: key.slice(0, 8),
    repId: repId ?? null,
  });
  return { id: String(doc._id), key, role, name, repId: repId ?? null };
}

export async function revokeApiKey(id: string): Promise<void> {
  const r = await ApiKey.updateOne({ _id: id, revokedAt: null }, { $set: { revokedAt: new Date() } });
  if (r.matchedCount === 0) throw notFound('API key');
}

export async function listApiKeys() {
  const keys = await ApiKey.find({}, { hash: 0 }).sort({ _id: 1 }).lean();
  return keys.map((k) => ({
    id: String(k._id),
    name: k.name,
    role: k.role,
    repId: k.repId ?? null,
    prefix: k.prefix,
    revokedAt: k.revokedAt,
    createdAt: k.createdAt,
  }));
}

/**
 * Who presents `key`: the ADMIN_API_KEY from the environment, or a stored, unrevoked key. Both
 * compare sha256 digests in constant time.
 */
export async function authenticateKey(
  key: string,
  adminApiKey: string | undefined,
): Promise<Principal | undefined> {
  if (key.length < 16 || key.length > 200) return undefined;
  const hash = hashKey(key);
  if (adminApiKey && sameHash(hash, hashKey(adminApiKey))) {
    return { keyId: 'env', name: 'ADMIN_API_KEY', role: 'admin' };
  }
  const doc = await ApiKey.findOne({ hash }, { hash: 1, role: 1, name: 1, revokedAt: 1, repId: 1 }).lean();
  if (!doc || doc.revokedAt || !sameHash(doc.hash, hash)) return undefined;
  return {
    keyId: String(doc._id),
    name: doc.name,
    role: doc.role as Role,
    ...(doc.repId ? { repId: doc.repId } : {}),
  };
}

/**
 * The principal a web session stands for, re-checked on every page: `keyHash` is the sha256 of the
 * key signed in with, so a revoked stored key, or an ADMIN_API_KEY changed since, ends the session.
 */
export async function principalForKeyHash(
  keyHash: string,
  adminApiKey: string | undefined,
): Promise<Principal | undefined> {
  if (!/^[a-f0-9]{64}$/.test(keyHash)) return undefined;
  if (adminApiKey && sameHash(keyHash, hashKey(adminApiKey))) {
    return { keyId: 'env', name: 'ADMIN_API_KEY', role: 'admin' };
  }
  const doc = await ApiKey.findOne(
    { hash: keyHash },
    { hash: 1, role: 1, name: 1, revokedAt: 1, repId: 1 },
  ).lean();
  if (!doc || doc.revokedAt || !sameHash(doc.hash, keyHash)) return undefined;
  return {
    keyId: String(doc._id),
    name: doc.name,
    role: doc.role as Role,
    ...(doc.repId ? { repId: doc.repId } : {}),
  };
}

/** Is this stored key (by its plain text) still valid? Used to reuse the bootstrap key file. */
export async function isActiveKey(key: string): Promise<boolean> {
  return (await ApiKey.exists({ hash: hashKey(key), revokedAt: null })) !== null;
}

/**
 * When ADMIN_API_KEY is unset, the first start creates an admin key and keeps it in
 * `<dataDir>/admin-api-key` (mode 0600), so a newcomer can call the API at once; later starts reuse it.
 */
export async function ensureBootstrapKey(config: {
  adminApiKey?: string;
  dataDir: string;
}): Promise<string | undefined> {
  if (config.adminApiKey) return undefined;
  const file = path.join(config.dataDir, 'admin-api-key');
  const existing = await readFile(file, 'utf8').then(
    (s) => s.trim(),
    () => undefined,
  );
  if (existing && (await isActiveKey(existing))) return existing;
  const { key } = await createApiKey('bootstrap admin (created on first start)', 'admin');
  await mkdir(config.dataDir, { recursive: true });
  await writeFile(file, `${key}\n`, { mode: 0o600 });
  return key;
}
