// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { MarkdownStream, renderMarkdown, safeHref } from '../src/index';

function html(markdown: string): string {
  const container = document.createElement('div');
  container.append(renderMarkdown(markdown, document));
  return container.innerHTML;
}

describe('renderMarkdown', () => {
  it('renders paragraphs, emphasis, code, lists, quotes and headings', () => {
    expect(html('Hello **bold** and *em* and _em2_ and `a<b>`\nnext line\n\nSecond')).toBe(
      '<p>Hello <strong>bold</strong> and <em>em</em> and <em>em2</em> and <code>a&lt;b&gt;</code>\nnext line</p><p>Second</p>',
    );
    expect(html('Steps:\n- one\n- **two**\n\n3. three\n4. four')).toBe(
      '<p>Steps:</p><ul><li>one</li><li><strong>two</strong></li></ul><ol start="3"><li>three</li><li>four</li></ol>',
    );
    expect(html('```js\nconst a = "<script>";\n\nalert(1)\n```\nafter')).toBe(
      '<pre part="code-block"><code>const a = "&lt;script&gt;";\n\nalert(1)</code></pre><p>after</p>',
    );
    expect(html('# Title\n> quoted\n\n---')).toBe('<p><strong>Title</strong></p><blockquote>quoted</blockquote><hr>');
    expect(html('snake_case_name stays')).toBe('<p>snake_case_name stays</p>');
  });

  it('makes only http(s) links, opening in a new tab without opener or referrer', () => {
    expect(html('[docs](https://example.com/a?b=1) and https://example.org/x.')).toBe(
      '<p><a href="https://example.com/a?b=1" target="_blank" rel="noopener noreferrer">docs</a> and ' +
        '<a href="https://example.org/x" target="_blank" rel="noopener noreferrer">https://example.org/x</a>.</p>',
    );
    for (const href of [
      'javascript:alert(1)',
      'JaVaScRiPt:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'vbscript:x',
      '/relative',
      '//evil.example',
    ]) {
      const container = document.createElement('div');
      container.append(renderMarkdown(`[click](${href})`, document));
      expect(container.querySelector('a'), href).toBeNull();
      expect(container.textContent).toBe('click');
    }
    expect(safeHref('https://example.com')).toBe('https://example.com/');
    expect(safeHref('javascript:alert(1)')).toBeUndefined();
  });

  it('shows HTML and script payloads as text, creating no element from them', () => {
    const payloads = ['<img src=x onerror=alert(1)>', '<script>alert(1)</script>', '<a href="javascript:alert(1)">x</a>', '<svg onload=alert(1)>', '&lt;b&gt;'];
    for (const payload of payloads) {
      const container = document.createElement('div');
      container.append(renderMarkdown(`**${payload}** ${payload}`, document));
      expect(container.textContent).toBe(`${payload} ${payload}`);
      expect(container.querySelector('img, script, svg, a, b')).toBeNull();
    }
  });
});

describe('MarkdownStream', () => {
  const source =
    'Intro with **bold** text.\n\n- item one\n- item `two`\n\n```\ncode line\n\nmore code\n```\nParagraph after [a link](https://example.com).\n\nLast *one*.';

  it('renders the same DOM as a whole render, wherever the text is split', () => {
    const expected = html(source);
    for (let size = 1; size <= 7; size += 1) {
      const container = document.createElement('div');
      const stream = new MarkdownStream(container);
      for (let index = 0; index < source.length; index += size) stream.append(source.slice(index, index + size));
      expect(container.innerHTML, `pieces of ${size}`).toBe(expected);
      expect(stream.text).toBe(source);
    }
  });

  it('keeps finished blocks and re-renders only the last one', () => {
    const container = document.createElement('div');
    const stream = new MarkdownStream(container);
    stream.append('First paragraph.\n\nSecond');
    const first = container.firstChild;
    stream.append(' paragraph grows');
    stream.append(' more.\n\nThird');
    expect(container.firstChild).toBe(first);
    expect(container.children).toHaveLength(3);
  });
});
