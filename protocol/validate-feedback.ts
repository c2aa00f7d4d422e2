/**
 * Checks of `feedback/submit` params and of the params that name one report: the client checks
 * a submission before it sends it, the daemon again when it takes it. Pure, as validate.ts.
 */
import {
  MAX_FEEDBACK_ATTACHMENT_NAME_LENGTH,
  MAX_FEEDBACK_ATTACHMENTS,
  MAX_FEEDBACK_LOGS_BYTES,
  MAX_FEEDBACK_NOTE_LENGTH,
  MAX_FEEDBACK_TAG_KEY_LENGTH,
  MAX_FEEDBACK_TAG_VALUE_LENGTH,
  MAX_FEEDBACK_TAGS,
} from './limits.js';
import { FEEDBACK_CATEGORIES, type FeedbackAttachment, type FeedbackSubmit } from './methods.js';
import { type Checked, checkSessionId, isPlainObject } from './validate.js';

/** Sentry's tag key alphabet. */
const FEEDBACK_TAG_KEY = /^[A-Za-z0-9_.:-]+$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** UTF-8 length of a string, without encoding it (the protocol module has no Buffer). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && index + 1 < text.length) {
      bytes += 4;
      index++;
    } else bytes += 3;
  }
  return bytes;
}

function checkAttachment(raw: unknown, index: number): string | null {
  const at = `params.attachments[${index}]`;
  if (!isPlainObject(raw)) return `${at}: must be an object with "name" and "data"`;
  if (typeof raw.name !== 'string' || raw.name.length === 0 || raw.name.length > MAX_FEEDBACK_ATTACHMENT_NAME_LENGTH || /[/\\\0]/.test(raw.name)) {
    return `${at}.name: must be a file name of 1 to ${MAX_FEEDBACK_ATTACHMENT_NAME_LENGTH} characters without / \\ or NUL`;
  }
  if (raw.contentType !== undefined && (typeof raw.contentType !== 'string' || raw.contentType.length === 0 || raw.contentType.length > MAX_FEEDBACK_ATTACHMENT_NAME_LENGTH)) {
    return `${at}.contentType: must be a string of 1 to ${MAX_FEEDBACK_ATTACHMENT_NAME_LENGTH} characters`;
  }
  if (typeof raw.data !== 'string' || raw.data.length % 4 !== 0 || !BASE64.test(raw.data)) return `${at}.data: must be base64 (A-Z a-z 0-9 + /, padded with =)`;
  return null;
}

/**
 * Checks `feedback/submit` params: every field against its named limit. The whole message is
 * also within {@link MAX_MESSAGE_BYTES}, which the framing enforces.
 */
export function checkFeedbackParams(params: unknown): Checked<FeedbackSubmit.Params> {
  const fail = (message: string): Checked<FeedbackSubmit.Params> => ({ ok: false, message });
  if (!isPlainObject(params)) return fail('params: must be an object with "category" and "includeLogs"');
  const category = params.category;
  if (typeof category !== 'string' || !(FEEDBACK_CATEGORIES as readonly string[]).includes(category)) {
    return fail(`params.category: must be one of ${FEEDBACK_CATEGORIES.join(', ')}`);
  }
  if (typeof params.includeLogs !== 'boolean') return fail('params.includeLogs: must be true or false');
  const note = params.note;
  if (note !== undefined && (typeof note !== 'string' || note.length > MAX_FEEDBACK_NOTE_LENGTH)) return fail(`params.note: must be a string of at most ${MAX_FEEDBACK_NOTE_LENGTH} characters`);
  const sessionId = params.sessionId;
  if (sessionId !== undefined && checkSessionId(sessionId) !== null) return fail(checkSessionId(sessionId) as string);
  const logs = params.logs;
  if (logs !== undefined) {
    if (typeof logs !== 'string') return fail('params.logs: must be a string');
    if (!params.includeLogs) return fail('params.logs: sent with includeLogs false; set includeLogs to send logs');
    const bytes = utf8Length(logs);
    if (bytes > MAX_FEEDBACK_LOGS_BYTES) return fail(`params.logs: ${bytes} bytes exceed the limit of ${MAX_FEEDBACK_LOGS_BYTES} bytes (4 MiB)`);
  }
  // Left out is empty; null is refused like every other optional field set to null.
  const attachments = params.attachments === undefined ? [] : params.attachments;
  if (!Array.isArray(attachments)) return fail('params.attachments: must be an array');
  if (attachments.length > MAX_FEEDBACK_ATTACHMENTS) return fail(`params.attachments: ${attachments.length} attachments exceed the limit of ${MAX_FEEDBACK_ATTACHMENTS}`);
  for (let index = 0; index < attachments.length; index++) {
    const problem = checkAttachment(attachments[index], index);
    if (problem !== null) return fail(problem);
  }
  const tags = params.tags === undefined ? {} : params.tags;
  if (!isPlainObject(tags)) return fail('params.tags: must be an object of string values');
  const keys = Object.keys(tags);
  if (keys.length > MAX_FEEDBACK_TAGS) return fail(`params.tags: ${keys.length} tags exceed the limit of ${MAX_FEEDBACK_TAGS}`);
  for (const key of keys) {
    if (key.length > MAX_FEEDBACK_TAG_KEY_LENGTH || !FEEDBACK_TAG_KEY.test(key)) {
      return fail(`params.tags.${JSON.stringify(key.slice(0, 64))}: key must be 1 to ${MAX_FEEDBACK_TAG_KEY_LENGTH} characters of A-Z a-z 0-9 _ . : -`);
    }
    const value = tags[key];
    if (typeof value !== 'string' || value.length === 0 || value.length > MAX_FEEDBACK_TAG_VALUE_LENGTH || /[\n\r]/.test(value)) {
      return fail(`params.tags.${key}: must be a string of 1 to ${MAX_FEEDBACK_TAG_VALUE_LENGTH} characters without line breaks`);
    }
  }
  return {
    ok: true,
    value: {
      category: category as FeedbackSubmit.Params['category'],
      includeLogs: params.includeLogs,
      ...(note === undefined ? {} : { note }),
      ...(sessionId === undefined ? {} : { sessionId: sessionId as string }),
      ...(logs === undefined ? {} : { logs }),
      attachments: attachments as FeedbackAttachment[],
      tags: tags as Record<string, string>,
    },
  };
}

/** Checks params that name one feedback report: `feedback/show`, `feedback/retry`. */
export function checkFeedbackIdParams(params: unknown): Checked<{ feedbackId: string }> {
  if (!isPlainObject(params) || typeof params.feedbackId !== 'string' || !/^[0-9a-f]{32}$/.test(params.feedbackId)) {
    return { ok: false, message: 'params.feedbackId: must be a report id (32 lowercase hex digits)' };
  }
  return { ok: true, value: { feedbackId: params.feedbackId } };
}
