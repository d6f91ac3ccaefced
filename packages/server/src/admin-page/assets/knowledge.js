// @ts-check
// A chat widget's knowledge on its page: uploads with progress, the file list,
// and the retrieval test. Uploads take effect at once, not on Save.
import { ApiError, api, uploadKnowledgeFile } from './api.js';
import { confirmDialog, errorBox, field, formatBytes, formatDate, h, toast, toastError } from './dom.js';

/** @typedef {import('./api.js').KnowledgeFile} KnowledgeFile */

const knowledgeAccept = '.txt,.md,.html,.pdf,.docx,.csv,.json';
const pollMs = 700;
const finished = (/** @type {string} */ status) => status === 'ready' || status === 'failed';

const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

function statusText(/** @type {KnowledgeFile} */ file) {
  if (file.status === 'processing') return `Reading ${Math.round((file.progress ?? 0) * 100)}%`;
  if (file.status === 'queued') return 'Queued';
  if (file.status === 'ready') return 'ready';
  return 'failed';
}

/** A chat widget's knowledge: upload with a progress bar per file, the file list, and the retrieval test. */
export function knowledgeSection(/** @type {import('./api.js').Widget} */ widget) {
  const path = `/widgets/${encodeURIComponent(widget.id)}/knowledge`;
  const section = h('section', { class: 'card knowledge', 'aria-labelledby': 'knowledge-title', 'data-testid': 'knowledge' });
  const limitsHint = h('p', { class: 'hint', id: 'knowledge-limits' }, 'Files this widget answers from; every answer names the passages it was given.');
  const sourceUrl = h('input', { type: 'url', name: 'knowledgeSourceUrl', placeholder: 'https://example.com/prices', spellcheck: 'false' });
  const chooser = h('input', {
    type: 'file',
    multiple: true,
    accept: knowledgeAccept,
    id: 'knowledge-files',
    class: 'file-input',
    'aria-describedby': 'knowledge-limits',
  });
  // Opened by each file's Replace button; never shown itself.
  const replacer = h('input', { type: 'file', accept: knowledgeAccept, hidden: true, 'data-testid': 'knowledge-replace-input' });
  const dropZone = h(
    'div',
    { class: 'drop-zone', 'data-testid': 'knowledge-drop' },
    h('label', { for: 'knowledge-files' }, h('strong', {}, 'Drop files here or choose files')),
    h('span', { class: 'hint' }, '.txt, .md, .html, .pdf, .docx, .csv, .json'),
    chooser,
  );
  const uploads = h('ul', { class: 'uploads', 'aria-label': 'Uploads', 'data-testid': 'knowledge-uploads' });
  const filesArea = h('div', { 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
  const totalsLine = h('p', { class: 'muted', 'data-testid': 'knowledge-totals' });
  /** @type {NonNullable<import('./api.js').KnowledgeList['limits']>} */
  let limits = {};
  /** @type {KnowledgeFile | undefined} */
  let replacing;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let listTimer;

  const refresh = async () => {
    clearTimeout(listTimer);
    let answer;
    try {
      answer = /** @type {import('./api.js').KnowledgeList} */ (await api('GET', path));
    } catch (error) {
      filesArea.replaceChildren(errorBox(error));
      return;
    }
    limits = answer.limits ?? {};
    if (limits.maxFileBytes) {
      limitsHint.textContent = `Files this widget answers from; every answer names the passages it was given. Up to ${formatBytes(limits.maxFileBytes)} a file${limits.maxWidgetFiles ? `, ${limits.maxWidgetFiles} files` : ''}.`;
    }
    const totals = answer.totals ?? {};
    totalsLine.textContent = answer.files.length
      ? `${answer.files.length} file(s), ${formatBytes(totals.bytes ?? answer.files.reduce((sum, file) => sum + file.bytes, 0))}${totals.passages === undefined ? '' : `, ${totals.passages.toLocaleString()} passages`}.`
      : '';
    filesArea.replaceChildren(
      answer.files.length ? filesTable(answer.files) : h('p', { class: 'muted' }, 'No files yet: this widget answers from its system prompt alone.'),
    );
    // Files still being read (by an upload of another tab, or before this page loaded) are followed too.
    if (answer.files.some((file) => !finished(file.status))) {
      listTimer = setTimeout(() => {
        if (section.isConnected) void refresh();
      }, pollMs * 2);
    }
  };

  const filesTable = (/** @type {KnowledgeFile[]} */ files) =>
    h(
      'table',
      { class: 'list knowledge-files', 'data-testid': 'knowledge-files' },
      h('caption', { class: 'visually-hidden' }, 'Knowledge files of this widget'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Name', 'Type', 'Size', 'Status', 'Passages', 'Tokens', 'Added', 'Actions'].map((name) => h('th', { scope: 'col' }, name)),
        ),
      ),
      h(
        'tbody',
        {},
        files.map((file) =>
          h(
            'tr',
            { 'data-file-id': file.id },
            h(
              'td',
              { 'data-label': 'Name' },
              file.sourceUrl && /^https?:\/\//i.test(file.sourceUrl)
                ? h('a', { href: file.sourceUrl, rel: 'noopener noreferrer', target: '_blank' }, file.name)
                : file.name,
            ),
            h('td', { 'data-label': 'Type' }, file.format),
            h('td', { 'data-label': 'Size' }, formatBytes(file.bytes)),
            h(
              'td',
              { 'data-label': 'Status' },
              h(
                'div',
                {},
                h('span', { class: `status ${file.status}`, 'data-testid': 'knowledge-status' }, statusText(file)),
                file.status === 'failed' && file.error && h('p', { class: 'hint error' }, file.error),
                file.vectorsNote && h('p', { class: 'hint', 'data-testid': 'vectors-note' }, file.vectorsNote),
              ),
            ),
            h('td', { 'data-label': 'Passages' }, file.passages.toLocaleString()),
            h('td', { 'data-label': 'Tokens' }, file.tokens.toLocaleString()),
            h('td', { 'data-label': 'Added' }, formatDate(file.createdAt)),
            h(
              'td',
              { 'data-label': 'Actions' },
              h(
                'div',
                { class: 'row-actions' },
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'secondary',
                    'aria-label': `Replace ${file.name}`,
                    onclick() {
                      replacing = file;
                      replacer.value = '';
                      replacer.click();
                    },
                  },
                  'Replace',
                ),
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'danger',
                    'aria-label': `Remove ${file.name}`,
                    async onclick() {
                      const confirmed = await confirmDialog(
                        `Remove ${file.name}?`,
                        [h('p', {}, 'Its passages and vectors are deleted at once; answers stop citing it.')],
                        'Remove file',
                      );
                      if (!confirmed) return;
                      try {
                        await api('DELETE', `${path}/${encodeURIComponent(file.id)}`);
                        toast(`${file.name} removed.`);
                      } catch (error) {
                        toastError(error);
                      }
                      await refresh();
                    },
                  },
                  'Remove',
                ),
              ),
            ),
          ),
        ),
      ),
    );

  /**
   * Uploads one file with its own progress bar: the upload first, then the server reading it.
   * @type {(file: File, replaces?: string) => Promise<void>}
   */
  const upload = async (file, replaces) => {
    const label = h('span', { class: 'upload-state' }, 'Waiting');
    const bar = h('progress', { max: 1, value: 0, 'aria-label': `Progress of ${file.name}` });
    const problem = h('div');
    const item = h(
      'li',
      { class: 'upload', 'data-name': file.name },
      h('div', { class: 'upload-head' }, h('span', { class: 'upload-name' }, file.name), label),
      bar,
      problem,
    );
    uploads.prepend(item);
    const fail = (/** @type {string} */ message) => {
      item.dataset.state = 'failed';
      label.textContent = 'failed';
      bar.value = 0;
      problem.replaceChildren(h('p', { class: 'error', role: 'alert' }, message));
    };
    if (limits.maxFileBytes && file.size > limits.maxFileBytes) {
      fail(`This file is larger than ${formatBytes(limits.maxFileBytes)}, the limit per file.`);
      return;
    }
    item.dataset.state = 'uploading';
    label.textContent = 'Uploading 0%';
    let answer;
    try {
      answer = await uploadKnowledgeFile(widget.id, file, { sourceUrl: sourceUrl.value.trim(), replaces }, (fraction) => {
        bar.value = fraction;
        label.textContent = `Uploading ${Math.round(fraction * 100)}%`;
      });
    } catch (error) {
      fail(error instanceof Error ? error.message : String(error));
      return;
    }
    void refresh();
    if (answer.duplicate) {
      item.dataset.state = 'duplicate';
      bar.value = 1;
      label.textContent = 'already uploaded';
      problem.replaceChildren(h('p', { class: 'hint' }, `The same content is already in this widget’s knowledge as ${answer.file.name}; nothing was added.`));
      return;
    }
    // Then the server's own progress: reading, cutting into passages, embedding.
    let current = answer.file;
    bar.value = current.progress ?? 0;
    item.dataset.state = 'reading';
    while (!finished(current.status) && item.isConnected) {
      label.textContent = current.status === 'queued' ? 'Queued' : `Reading ${Math.round((current.progress ?? 0) * 100)}%`;
      await sleep(pollMs);
      try {
        current = /** @type {{ file: KnowledgeFile }} */ (await api('GET', `${path}/${encodeURIComponent(current.id)}`)).file;
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) {
          fail('This file was removed while it was being read.');
          return;
        }
        // A blip: try again at the next tick.
        continue;
      }
      bar.value = current.progress ?? 0;
    }
    if (!item.isConnected) return;
    if (current.status === 'failed') {
      fail(current.error ?? 'This file could not be read.');
    } else {
      item.dataset.state = 'ready';
      bar.value = 1;
      label.textContent = `ready: ${current.passages.toLocaleString()} passages`;
      if (current.vectorsNote) problem.replaceChildren(h('p', { class: 'hint' }, current.vectorsNote));
    }
    await refresh();
  };

  /** @type {(files: File[], replaces?: string) => Promise<void>} */
  const uploadAll = async (files, replaces) => {
    for (const file of files) await upload(file, replaces);
  };

  chooser.addEventListener('change', () => {
    const files = [...(chooser.files ?? [])];
    chooser.value = '';
    void uploadAll(files);
  });
  replacer.addEventListener('change', () => {
    const [file] = replacer.files ?? [];
    const target = replacing;
    replacing = undefined;
    replacer.value = '';
    if (file && target) void uploadAll([file], target.id);
  });
  dropZone.addEventListener('dragover', (event) => {
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
    dropZone.classList.add('over');
  });
  dropZone.addEventListener('dragleave', () => dropZone.classList.remove('over'));
  dropZone.addEventListener('drop', (event) => {
    event.preventDefault();
    dropZone.classList.remove('over');
    void uploadAll([...(event.dataTransfer?.files ?? [])]);
  });

  section.append(
    h('h2', { id: 'knowledge-title' }, 'Knowledge'),
    limitsHint,
    field('Source URL', sourceUrl, 'Optional: the page the next files come from; their citations link to it.'),
    dropZone,
    replacer,
    uploads,
    h('h3', {}, 'Files'),
    totalsLine,
    filesArea,
    retrievalTest(widget, path),
  );
  void refresh();
  return section;
}

/** "Try a question": the passages the widget would be given, ranked, with each retriever's standing. */
/**
 * @param {import('./api.js').Widget} widget
 * @param {string} path the widget's knowledge under /admin
 */
function retrievalTest(widget, path) {
  const question = h('input', { type: 'search', name: 'knowledgeQuestion', placeholder: 'How much is the Pro plan?', required: true, maxlength: 2000 });
  const results = h('div', { 'aria-live': 'polite', 'data-testid': 'knowledge-hits' });
  const button = h('button', { type: 'submit', class: 'secondary' }, 'Try');
  const standing = (/** @type {string} */ name, /** @type {import('./api.js').Standing | undefined} */ entry) =>
    entry ? `${name} #${entry.rank} (${entry.score.toFixed(3)})` : `${name}: not found`;
  return h(
    'form',
    {
      class: 'retrieval-test',
      async onsubmit(event) {
        event.preventDefault();
        results.replaceChildren(h('p', { class: 'muted' }, 'Searching…'));
        button.disabled = true;
        try {
          const { hits } = /** @type {{ hits: import('./api.js').Hit[] }} */ (await api('POST', `${path}/search`, { question: question.value }));
          results.replaceChildren(
            hits.length
              ? h(
                  'ol',
                  { class: 'hits' },
                  hits.map((hit) =>
                    h(
                      'li',
                      { class: 'hit', 'data-rank': hit.rank },
                      h(
                        'p',
                        { class: 'hit-head' },
                        h('strong', {}, `#${hit.rank} `),
                        hit.passage.url && /^https?:\/\//i.test(hit.passage.url)
                          ? h('a', { href: hit.passage.url, rel: 'noopener noreferrer', target: '_blank', class: 'hit-file' }, hit.passage.file)
                          : h('span', { class: 'hit-file' }, hit.passage.file),
                        hit.passage.location && h('span', { class: 'muted' }, ` — ${hit.passage.location}`),
                      ),
                      h('p', { class: 'hint' }, `score ${hit.score.toFixed(4)} · ${standing('keyword', hit.keyword)} · ${standing('vector', hit.vector)}`),
                      h('p', { class: 'passage' }, hit.passage.text),
                    ),
                  ),
                )
              : h('p', { class: 'muted' }, 'No passage found: the widget would answer from its system prompt alone.'),
          );
        } catch (error) {
          results.replaceChildren(errorBox(error));
        } finally {
          button.disabled = false;
        }
      },
    },
    h('h3', {}, 'Try a question'),
    h('p', { class: 'hint' }, `The passages this widget would be given for a question (its vector count: ${widget.behaviour.vectorCount ?? 5}), best first.`),
    h('div', { class: 'inline-row' }, field('Question', question), button),
    results,
  );
}
