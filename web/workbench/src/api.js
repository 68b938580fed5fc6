// The REST API on the same origin, with the signed-in account's token.
import { zhField } from './zh.js';

const KEY = 'tongban.workbench.session';

/** The signed-in session: { token, expireTime, account, office }, or null. */
export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY));
  } catch {
    return null;
  }
}

export function saveSession(s) {
  sessionStorage.setItem(KEY, JSON.stringify(s));
}

export function clearSession() {
  sessionStorage.removeItem(KEY);
  window.dispatchEvent(new Event('tongban:session'));
}

/** An API error: the HTTP status, the message, the reason and the field violations. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.reason = '';
    this.fields = [];
    for (const d of body?.details || []) {
      if (d['@type']?.endsWith('google.rpc.BadRequest')) this.fields.push(...(d.fieldViolations || []));
      if (d['@type']?.endsWith('google.rpc.ErrorInfo')) this.reason = d.reason;
    }
  }
}

/** A random id for Idempotency-Key and request_id: a retry never duplicates. */
export function newRequestId() {
  return crypto.randomUUID();
}

export async function api(method, path, body, { idempotencyKey } = {}) {
  const s = session();
  const headers = { Accept: 'application/json' };
  if (s?.token) headers.Authorization = `Bearer ${s.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let parsed = {};
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    parsed = { message: text };
  }
  if (r.status === 401 && s) {
    clearSession(); // the token expired or was revoked: sign in again
  }
  if (!r.ok) throw new ApiError(r.status, parsed);
  return parsed;
}

/** Downloads a file the API serves to the signed-in account (a link cannot carry the token). */
export async function download(path, filename) {
  const s = session();
  const r = await fetch(path, { headers: s?.token ? { Authorization: `Bearer ${s.token}` } : {} });
  if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => ({})));
  const url = URL.createObjectURL(await r.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** The form path of an API field, e.g. "case.petitioners[0].id_number" → ["petitioners", 0, "idNumber"]. */
export function formPath(field, prefix = '') {
  let f = field;
  if (prefix && f.startsWith(prefix)) f = f.slice(prefix.length);
  const path = [];
  for (const part of f.split('.')) {
    const m = /^([a-z_0-9]+)(?:\[(\d+)\])?$/.exec(part);
    if (!m) return [f];
    path.push(m[1].replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase()));
    if (m[2] !== undefined) path.push(Number(m[2]));
  }
  return path;
}

/**
 * Shows an ApiError's field violations beside the form's fields and returns
 * the ones no field of the form shows ("field: description"), for an alert.
 */
export function showFieldErrors(form, err, prefix = '') {
  const registered = new Set(form.getFieldsError().map((f) => JSON.stringify(f.name)));
  const byPath = new Map();
  const rest = [];
  for (const v of err.fields || []) {
    const name = formPath(v.field, prefix);
    const key = JSON.stringify(name);
    if (!registered.has(key)) {
      rest.push(`${v.field}: ${zhField(v.description)}`);
      continue;
    }
    if (!byPath.has(key)) byPath.set(key, { name, errors: [] });
    byPath.get(key).errors.push(zhField(v.description));
  }
  form.setFields([...byPath.values()]);
  return rest;
}

/** "offices/330421102" → "330421102". */
export const officeId = (name) => (name || '').replace(/^offices\//, '');
/** "cases/330421-2026-000001" → "330421-2026-000001". */
export const caseNumber = (name) => (name || '').replace(/^cases\//, '');
