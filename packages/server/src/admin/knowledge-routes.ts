import type { AirlockContext } from '../context.js';
import { AirlockError } from '../errors.js';
import { megabytes, type KnowledgeLimits, type KnowledgeService } from '../knowledge/knowledge-service.js';
import { passageLocation, type RetrievedPassage } from '../knowledge/retrieval.js';
import { readRequestBytes } from '../http/request-parts.js';
import { json, readJsonObject } from '../http/responses.js';
import type { Route } from '../http/router.js';
import type { KnowledgeFileRecord, KnowledgeTotals } from '../stores/knowledge-store.js';
import type { WidgetRecord } from '../stores/store.js';
import { assertAccountAccess, requireAdmin } from './auth.js';

// Room for the multipart framing around the file: boundaries, part headers, the text fields.
const formOverheadBytes = 64 * 1024;
const maxQuestionCharacters = 2_000;
const maxTop = 20;
const maxSourceUrlCharacters = 2_048;
const uploadFields = new Set(['file', 'sourceUrl', 'replaces']);
const searchFields = new Set(['question', 'top']);
const knowledgePath = (suffix = '') => new RegExp(`^/admin/widgets/(?<id>[A-Za-z0-9_-]{1,100})/knowledge${suffix}$`);
const filePath = knowledgePath('/(?<fileId>[A-Za-z0-9_-]{1,100})');

/**
 * One passage of the retrieval test, as the admin API answers it: its rank
 * and fused score, the passage with its file's name, its place in the file
 * and the file's source URL, and how the keyword and vector retrievers each
 * ranked it (absent when that retriever did not find it).
 *
 * @example
 * ```ts
 * const hit: KnowledgeSearchHitJson = {
 *   rank: 1, score: 0.0328,
 *   passage: { id: 'kf_1:3', fileId: 'kf_1', file: 'pricing.md', location: 'Pricing > Plans', text: 'The Pro plan costs…' },
 *   keyword: { rank: 1, score: 4.1 }, vector: { rank: 2, score: 0.71 },
 * };
 * ```
 */
export interface KnowledgeSearchHitJson {
  rank: number;
  score: number;
  passage: { id: string; fileId: string; file: string; location?: string; url?: string; text: string };
  keyword?: { rank: number; score: number };
  vector?: { rank: number; score: number };
}

function knowledgeOf(context: AirlockContext): KnowledgeService {
  if (!context.knowledge) {
    // Not temporary, so no Retry-After: the operator has to give createAirlock a knowledge store.
    throw new AirlockError(
      'service_unavailable',
      'Widget knowledge is off on this server: it runs on a custom store without a knowledge store (createAirlock({ knowledge: { store } })).',
    );
  }
  return context.knowledge;
}

/**
 * The knowledge service and the widget a request names, for the operator or
 * the owner of the widget's account: `widget_not_found` for no widget,
 * `forbidden` for another account's (as every admin route answers them).
 */
async function accessibleWidget(
  context: AirlockContext,
  request: Request,
  id: string | undefined,
): Promise<{ knowledge: KnowledgeService; widget: WidgetRecord }> {
  const principal = requireAdmin(context, request, { accountOwners: true });
  const knowledge = knowledgeOf(context);
  await context.started();
  const widget = id === undefined ? undefined : await context.store.getWidget(id);
  if (!widget) throw new AirlockError('widget_not_found', 'There is no such widget.');
  assertAccountAccess(principal, widget.accountId);
  return { knowledge, widget };
}

/**
 * Reads an upload's multipart body under a byte limit (before any parsing,
 * so a body past it is refused without being held), then parses it with the
 * Fetch API's own multipart parser.
 */
async function readUploadForm(request: Request, maxFileBytes: number): Promise<FormData> {
  const contentType = request.headers.get('content-type') ?? '';
  if (!/^multipart\/form-data\s*;/i.test(contentType)) {
    throw new AirlockError('input_invalid', 'Send the file as multipart/form-data, in a part named "file".', { status: 415 });
  }
  const maxBytes = maxFileBytes + formOverheadBytes;
  const tooLarge = () => new AirlockError('payload_too_large', `This upload is larger than ${megabytes(maxFileBytes)} MB, the limit per file.`);
  if (Number(request.headers.get('content-length') ?? '0') > maxBytes) throw tooLarge();
  const bytes = await readRequestBytes(request, maxBytes);
  if (!bytes) throw tooLarge();
  try {
    // Typed ArrayBufferLike (a SharedArrayBuffer, as far as types go), which BodyInit does not take; never shared.
    return await new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': contentType } }).formData();
  } catch (error) {
    throw new AirlockError('input_invalid', 'The request body is not a readable multipart/form-data body.', { cause: error });
  }
}

/** An optional text field of the form: absent or empty is none (a form's blank input). */
function textField(form: FormData, name: string): string | undefined {
  const values = form.getAll(name);
  if (values.length === 0) return undefined;
  if (values.length > 1 || typeof values[0] !== 'string') throw new AirlockError('input_invalid', `"${name}" must be given once, as text.`);
  return values[0] === '' ? undefined : values[0];
}

function checkSourceUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.length > maxSourceUrlCharacters) {
    throw new AirlockError(
      'input_invalid',
      `"sourceUrl" must be an http: or https: URL of at most ${maxSourceUrlCharacters.toLocaleString('en-US')} characters.`,
    );
  }
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new AirlockError('input_invalid', '"sourceUrl" must be an http: or https: URL, such as https://example.com/prices.');
  }
  return value;
}

/**
 * A widget's knowledge as the admin API and `airlock knowledge list --json`
 * show it: its files (oldest first), what they take (every file not
 * failed), and the limits in force.
 *
 * @example
 * ```ts
 * const { files, totals, limits } = await knowledgeListing(knowledge, widget.id);
 * ```
 */
export async function knowledgeListing(
  knowledge: KnowledgeService,
  widgetId: string,
): Promise<{ files: KnowledgeFileRecord[]; totals: KnowledgeTotals; limits: Required<KnowledgeLimits> }> {
  const [files, totals] = await Promise.all([knowledge.list(widgetId), knowledge.store.totals(widgetId)]);
  const { maxFileBytes, maxWidgetBytes, maxAccountBytes, maxWidgetFiles } = knowledge.limits;
  return { files, totals, limits: { maxFileBytes, maxWidgetBytes, maxAccountBytes, maxWidgetFiles } };
}

/**
 * Checks a retrieval test's input, `{question, top?}`: a question of 1 to
 * 2,000 characters, at most 20 passages; `input_invalid` naming the field
 * otherwise, or an unknown field.
 *
 * @example
 * ```ts
 * const { question, top } = parseKnowledgeSearch({ question: 'How much is Pro?', top: 3 });
 * ```
 */
export function parseKnowledgeSearch(body: Record<string, unknown>): { question: string; top?: number } {
  for (const name of Object.keys(body)) {
    if (!searchFields.has(name)) throw new AirlockError('input_invalid', `"${name}" is not a field of a search; send "question", and optionally "top".`);
  }
  const { question, top } = body;
  if (typeof question !== 'string' || question.trim() === '') throw new AirlockError('input_invalid', '"question" must be a non-empty string.');
  if (question.length > maxQuestionCharacters) {
    throw new AirlockError('input_invalid', `"question" must have at most ${maxQuestionCharacters.toLocaleString('en-US')} characters.`);
  }
  if (top !== undefined && (typeof top !== 'number' || !Number.isInteger(top) || top < 1 || top > maxTop)) {
    throw new AirlockError('input_invalid', `"top" must be a whole number from 1 to ${maxTop}.`);
  }
  return { question, ...(top !== undefined && { top }) };
}

/**
 * A retrieved passage as the retrieval test shows it (the admin API and
 * `airlock knowledge search --json`), `index` being its place from 0.
 *
 * @example
 * ```ts
 * const hits = (await knowledge.search(widget, question, 5)).map(knowledgeSearchHitJson);
 * ```
 */
export function knowledgeSearchHitJson(hit: RetrievedPassage, index: number): KnowledgeSearchHitJson {
  const { passage } = hit;
  const location = passageLocation(passage.location);
  return {
    rank: index + 1,
    score: hit.score,
    passage: {
      // The id an answer's source has for it (its file and position), not the store's row id.
      id: `${passage.fileId}:${passage.ordinal}`,
      fileId: passage.fileId,
      file: passage.location.file,
      ...(location !== undefined && { location }),
      ...(passage.sourceUrl !== undefined && { url: passage.sourceUrl }),
      text: passage.text,
    },
    ...(hit.keyword && { keyword: hit.keyword }),
    ...(hit.vector && { vector: hit.vector }),
  };
}

/**
 * The admin API for a widget's knowledge files (operator, or the owner of
 * the widget's account; a session's changes need its CSRF token, as every
 * admin route): `POST|GET /admin/widgets/:id/knowledge` (upload as
 * multipart/form-data, list with totals and limits),
 * `GET|DELETE /admin/widgets/:id/knowledge/:fileId`, and
 * `POST /admin/widgets/:id/knowledge/search` (the retrieval test: the
 * passages the widget would be given for a question). Answers 503
 * `service_unavailable` when knowledge is off (a custom store). See
 * docs/knowledge.md.
 *
 * @example
 * ```ts
 * const routes = [...knowledgeAdminRoutes(context)];
 * ```
 */
export function knowledgeAdminRoutes(context: AirlockContext): Route[] {
  return [
    {
      method: 'POST',
      path: knowledgePath(),
      browser: 'none',
      async handle(request, params) {
        const { knowledge, widget } = await accessibleWidget(context, request, params.id);
        const form = await readUploadForm(request, knowledge.limits.maxFileBytes);
        for (const name of new Set(form.keys())) {
          if (!uploadFields.has(name))
            throw new AirlockError('input_invalid', `"${name}" is not a field of an upload; send "file", and optionally "sourceUrl" and "replaces".`);
        }
        const files = form.getAll('file');
        if (files.length === 0 || files.some((file) => typeof file === 'string')) {
          throw new AirlockError('input_invalid', 'Send the file in a part named "file", with a file name.');
        }
        if (files.length > 1) throw new AirlockError('input_invalid', 'Send one file per upload.');
        const file = files[0] as File;
        const sourceUrl = checkSourceUrl(textField(form, 'sourceUrl'));
        const replaces = textField(form, 'replaces');
        const added = await knowledge.add(widget, {
          name: file.name,
          bytes: new Uint8Array(await file.arrayBuffer()),
          ...(file.type !== '' && { contentType: file.type }),
          ...(sourceUrl !== undefined && { sourceUrl }),
          ...(replaces !== undefined && { replaces }),
        });
        // Accepted: the file is read in the background; its status says when it is ready.
        return json({ file: added.file, duplicate: added.duplicate }, { status: 202 });
      },
    },
    {
      method: 'GET',
      path: knowledgePath(),
      browser: 'none',
      async handle(request, params) {
        const { knowledge, widget } = await accessibleWidget(context, request, params.id);
        return json(await knowledgeListing(knowledge, widget.id));
      },
    },
    {
      method: 'POST',
      path: knowledgePath('/search'),
      browser: 'none',
      async handle(request, params) {
        const { knowledge, widget } = await accessibleWidget(context, request, params.id);
        const body = await readJsonObject(request, 16 * 1024);
        const { question, top } = parseKnowledgeSearch(body);
        const hits = await knowledge.search(widget, question, top ?? widget.behaviour.vectorCount ?? 5);
        return json({ hits: hits.map(knowledgeSearchHitJson) });
      },
    },
    {
      method: 'GET',
      path: filePath,
      browser: 'none',
      async handle(request, params) {
        const { knowledge, widget } = await accessibleWidget(context, request, params.id);
        const file = await knowledge.store.getFile(widget.id, params.fileId!);
        if (!file) throw new AirlockError('not_found', 'This widget has no such file.');
        return json({ file });
      },
    },
    {
      method: 'DELETE',
      path: filePath,
      browser: 'none',
      async handle(request, params) {
        const { knowledge, widget } = await accessibleWidget(context, request, params.id);
        if (!(await knowledge.remove(widget.id, params.fileId!))) throw new AirlockError('not_found', 'This widget has no such file.');
        return new Response(null, { status: 204 });
      },
    },
  ];
}
