import { isValidObjectId } from 'mongoose';
import { notFound } from '../../lib/errors.js';
import { Account, type AccountDoc } from './account.model.js';
import { Contact, type ContactDoc } from './contact.model.js';

export function toContactJson(c: ContactDoc) {
  return {
    id: String(c._id),
    email: c.email,
    firstName: c.firstName ?? null,
    lastName: c.lastName ?? null,
    phone: c.phone ?? null,
    title: c.title ?? null,
    accountId: c.accountId ? String(c.accountId) : null,
    leadId: c.leadId ? String(c.leadId) : null,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}

export function toAccountJson(a: AccountDoc) {
  return {
    id: String(a._id),
    name: a.name,
    website: a.website ?? null,
    industry: a.industry ?? null,
    country: a.country ?? null,
    type: a.type,
    createdAt: a.createdAt,
    updatedAt: a.updatedAt,
  };
}

export async function getContact(id: string) {
  const c = isValidObjectId(id) ? await Contact.findById(id).lean<ContactDoc>() : null;
  if (!c) throw notFound('contact');
  return toContactJson(c);
}

export async function getAccount(id: string) {
  const a = isValidObjectId(id) ? await Account.findById(id).lean<AccountDoc>() : null;
  if (!a) throw notFound('account');
  return toAccountJson(a);
}
