import { strToU8 } from 'fflate';
import { describe, expect, test } from 'vitest';
import { extractBlocks, type ExtractedFile } from '../../src/knowledge/extract-file.js';
import { ExtractionProblem, type ExtractionLimits, type KnowledgeFileProblem, type TextBlock } from '../../src/knowledge/types.js';
import { makeDocx, makeEncryptedPdf, makePdf, makeScannedPdf, makeZipBomb, wordParagraph, wordTable } from './files.js';

const encode = (text: string) => new TextEncoder().encode(text);

function read(name: string, content: string | Uint8Array, limits?: ExtractionLimits): Promise<ExtractedFile> {
  return extractBlocks({ name, bytes: typeof content === 'string' ? encode(content) : content }, limits);
}

async function refusal(name: string, content: string | Uint8Array, limits?: ExtractionLimits): Promise<{ problem: KnowledgeFileProblem; message: string }> {
  try {
    await read(name, content, limits);
  } catch (error) {
    if (ExtractionProblem.isInstance(error)) return { problem: error.problem, message: error.message };
    throw error;
  }
  throw new Error(`${name} was read, but should have been refused.`);
}

const texts = (blocks: readonly TextBlock[], kind?: TextBlock['kind']) => blocks.filter((block) => !kind || block.kind === kind).map((block) => block.text);

describe('text formats', () => {
  test('plain text keeps its paragraphs', async () => {
    const { format, blocks } = await read('notes.txt', 'Opening hours\nMonday to Friday.\n\n\nClosed on holidays.\n');
    expect(format).toBe('txt');
    expect(texts(blocks)).toEqual(['Opening hours Monday to Friday.', 'Closed on holidays.']);
  });

  test('Markdown headings become a heading path; tables become rows; code stays code', async () => {
    const markdown = [
      '---',
      'title: Handbook',
      '---',
      '# Handbook',
      'Welcome to **Acme**. See [the site](https://acme.test).',
      '',
      '## Prices',
      '',
      '| Plan | Price |',
      '|------|------:|',
      '| Pro  | $20   |',
      '| Team | $50   |',
      '',
      'Support',
      '-------',
      '- Email us',
      '- Call us',
      '```',
      '# not a heading',
      '```',
    ].join('\n');
    const { blocks } = await read('handbook.md', markdown);
    expect(blocks.find((block) => block.text.startsWith('Welcome'))).toMatchObject({ text: 'Welcome to Acme. See the site.', headingPath: ['Handbook'] });
    expect(blocks.filter((block) => block.kind === 'row')).toEqual([
      { kind: 'row', text: 'Plan: Pro; Price: $20', headingPath: ['Handbook', 'Prices'], row: 1, table: 0 },
      { kind: 'row', text: 'Plan: Team; Price: $50', headingPath: ['Handbook', 'Prices'], row: 2, table: 0 },
    ]);
    expect(blocks.filter((block) => block.kind === 'list-item')).toMatchObject([
      { text: 'Email us', headingPath: ['Handbook', 'Support'] },
      { text: 'Call us', headingPath: ['Handbook', 'Support'] },
    ]);
    expect(blocks.find((block) => block.kind === 'code')?.text).toBe('# not a heading');
    expect(texts(blocks, 'heading')).toEqual(['Handbook', 'Prices', 'Support']);
    expect(texts(blocks)[0]).toBe('title: Handbook');
  });

  test('HTML: headings, paragraphs, lists and table rows survive; scripts, styles, navigation and hidden parts do not', async () => {
    const html = `<!doctype html><html><head><title>T</title><style>p{color:red}</style></head><body>
      <nav><a href="/">Home</a> <a href="/shop">Shop</a></nav>
      <h1>Acme &amp; Co</h1><p>We sell <b>routers</b>.<br>Since 1999.</p>
      <script>document.write('tracking')</script>
      <h2>Plans</h2>
      <table><caption>Monthly prices</caption>
        <thead><tr><th>Plan</th><th>Price</th><th>Seats</th></tr></thead>
        <tbody><tr><td>Pro</td><td>$20</td><td>5</td></tr><tr><td>Team</td><td colspan="2">Ask us</td></tr></tbody>
      </table>
      <h3>Notes</h3><ul><li>Prices include VAT</li><li>Cancel any time<ul><li>online</li></ul></li></ul>
      <div hidden>Old prices</div><p aria-hidden="true">Decoration</p>
      <p>Unclosed paragraph<p>Next one
    </body></html>`;
    const { blocks } = await read('index.html', html);
    const all = texts(blocks).join('\n');
    expect(all).not.toMatch(/Home|Shop|tracking|color|Old prices|Decoration/);
    expect(texts(blocks, 'heading')).toEqual(['Acme & Co', 'Plans', 'Notes']);
    expect(blocks.find((block) => block.text.startsWith('We sell'))).toMatchObject({ text: 'We sell routers. Since 1999.', headingPath: ['Acme & Co'] });
    expect(blocks.filter((block) => block.kind === 'row')).toEqual([
      { kind: 'row', text: 'Plan: Pro; Price: $20; Seats: 5', headingPath: ['Acme & Co', 'Plans', 'Monthly prices'], row: 1, table: 0 },
      { kind: 'row', text: 'Plan: Team; Price: Ask us', headingPath: ['Acme & Co', 'Plans', 'Monthly prices'], row: 2, table: 0 },
    ]);
    expect(blocks.filter((block) => block.kind === 'list-item').map((block) => [block.text, block.headingPath.at(-1)])).toEqual([
      ['Prices include VAT', 'Notes'],
      ['Cancel any time', 'Notes'],
      ['online', 'Notes'],
    ]);
    expect(texts(blocks).slice(-2)).toEqual(['Unclosed paragraph', 'Next one']);
  });

  test('HTML nested deeper than browsers allow is refused at once; 500 levels are read', async () => {
    const started = performance.now();
    expect(await refusal('deep.html', `${'<div>'.repeat(100_000)}bottom${'</div>'.repeat(100_000)}`)).toEqual({
      problem: 'too_large',
      message: 'This HTML document nests its elements more than 512 levels deep.',
    });
    expect(performance.now() - started).toBeLessThan(1_000);
    const { blocks } = await read('nested.html', `${'<section><div>'.repeat(250)}bottom${'</div></section>'.repeat(250)}<p>a<p>b${'<li>item'.repeat(2_000)}`);
    expect(texts(blocks).slice(0, 3)).toEqual(['bottom', 'a', 'b']);
    expect(blocks).toHaveLength(2_003);
  });
});

describe('data formats', () => {
  test('each CSV row becomes "column: value" text that makes sense alone, with its row number', async () => {
    const csv = 'Product,Price,Notes\nRouter X,49,"Wi-Fi 6, two bands"\nRouter Y,79,"Mesh\nready"\n\nCable,,\n';
    const { blocks } = await read('prices.csv', csv);
    expect(blocks).toEqual([
      { kind: 'row', text: 'Product: Router X; Price: 49; Notes: Wi-Fi 6, two bands', headingPath: [], row: 1, table: 0 },
      { kind: 'row', text: 'Product: Router Y; Price: 79; Notes: Mesh ready', headingPath: [], row: 2, table: 0 },
      { kind: 'row', text: 'Product: Cable', headingPath: [], row: 3, table: 0 },
    ]);
  });

  test('semicolon and tab separated files are recognised', async () => {
    expect(texts((await read('eu.csv', 'Name;Preis\nRouter;49,90\n')).blocks)).toEqual(['Name: Router; Preis: 49,90']);
    expect(texts((await read('tabs.csv', 'Name\tPrice\nRouter\t49\n')).blocks)).toEqual(['Name: Router; Price: 49']);
  });

  test('a ragged CSV, an unclosed quote and a million columns are refused with a clear reason', async () => {
    expect(await refusal('ragged.csv', 'a,b,c\n1,2,3\n4,5\n')).toEqual({
      problem: 'corrupt',
      message: 'Row 2 of this CSV file (line 3) has 2 fields; its header has 3.',
    });
    expect((await refusal('quote.csv', 'a,b\n"open,2\n')).message).toMatch(/quoted value that is never closed/);
    const wide = `${Array.from({ length: 1_000_000 }, (_, index) => `c${index}`).join(',')}\n`;
    expect(await refusal('wide.csv', wide)).toMatchObject({ problem: 'too_large', message: expect.stringMatching(/longer than 80,000 characters/) });
    const many = `${Array.from({ length: 1_200 }, (_, index) => `c${index}`).join(',')}\n`;
    expect(await refusal('many.csv', many)).toMatchObject({ problem: 'too_large', message: expect.stringMatching(/1,200 columns; at most 1,000/) });
  });

  test('a CSV with more rows than allowed is refused', async () => {
    const csv = `n\n${Array.from({ length: 11 }, (_, index) => index).join('\n')}\n`;
    expect(await refusal('rows.csv', csv, { maxRows: 10 })).toMatchObject({ problem: 'too_large', message: expect.stringMatching(/more than 10 table rows/) });
  });

  test('JSON is flattened to "path: value" lines, and arrays of objects read like table rows', async () => {
    const json = JSON.stringify({
      company: { name: 'Acme', address: { city: 'Lyon' }, tags: ['routers', 'cables'] },
      plans: [
        { name: 'Pro', price: 20, limits: { seats: 5 } },
        { name: 'Team', price: 50, limits: { seats: 20 } },
      ],
      'opening hours': '9-17',
      active: true,
    });
    const { blocks } = await read('data.json', json);
    expect(blocks).toEqual([
      { kind: 'code', text: 'company.name: Acme\ncompany.address.city: Lyon\ncompany.tags[0]: routers\ncompany.tags[1]: cables', headingPath: [] },
      { kind: 'row', text: 'name: Pro; price: 20; limits.seats: 5', headingPath: ['plans'], row: 1, table: 0 },
      { kind: 'row', text: 'name: Team; price: 50; limits.seats: 20', headingPath: ['plans'], row: 2, table: 0 },
      { kind: 'code', text: '"opening hours": 9-17\nactive: true', headingPath: [] },
    ]);
  });

  test('invalid and deeply nested JSON are refused', async () => {
    expect(await refusal('bad.json', '{"a": 1,')).toMatchObject({ problem: 'corrupt', message: expect.stringMatching(/^This file is not valid JSON/) });
    expect(await refusal('deep.json', `${'['.repeat(100_000)}1${']'.repeat(100_000)}`)).toMatchObject({
      problem: 'too_large',
      message: 'This JSON file is nested more than 64 levels deep.',
    });
  });
});

describe('PDF', () => {
  test('page numbers and headings (by font size) survive', async () => {
    const pdf = makePdf([
      [{ text: 'Router manual', size: 24 }, { text: 'Read this first.' }],
      [{ text: 'Installation', size: 18 }, { text: 'Plug the router in and wait' }, { text: 'for the green light.' }],
      [{ text: 'Troubleshooting', size: 18 }, { text: 'Hold reset for ten seconds.' }],
    ]);
    const { format, pages, blocks } = await read('manual.pdf', pdf);
    expect(format).toBe('pdf');
    expect(pages).toBe(3);
    expect(blocks).toEqual([
      { kind: 'heading', text: 'Router manual', level: 1, headingPath: [], page: 1 },
      { kind: 'paragraph', text: 'Read this first.', headingPath: ['Router manual'], page: 1 },
      { kind: 'heading', text: 'Installation', level: 2, headingPath: ['Router manual'], page: 2 },
      { kind: 'paragraph', text: 'Plug the router in and wait for the green light.', headingPath: ['Router manual', 'Installation'], page: 2 },
      { kind: 'heading', text: 'Troubleshooting', level: 2, headingPath: ['Router manual'], page: 3 },
      { kind: 'paragraph', text: 'Hold reset for ten seconds.', headingPath: ['Router manual', 'Troubleshooting'], page: 3 },
    ]);
  });

  test('a scanned PDF (no text layer) is refused, saying that OCR is not supported', async () => {
    expect(await refusal('scan.pdf', makeScannedPdf(3))).toEqual({
      problem: 'no_text',
      message: 'This PDF has no text layer (it looks like a scan); text recognition (OCR) is not supported, so upload a PDF with selectable text.',
    });
  });

  test('scanned pages inside a readable PDF are named in the warnings', async () => {
    const pdf = makePdf([[{ text: 'Page one text.' }], [], [], [{ text: 'Page four text.' }]]);
    const { warnings, blocks } = await read('mixed.pdf', pdf);
    expect(blocks.map((block) => block.page)).toEqual([1, 4]);
    expect(warnings).toEqual(['Pages 2–3 of this PDF have no text (scanned pages need OCR, which is not supported).']);
  });

  test('password-protected, truncated and fake PDFs are refused with a clear reason', async () => {
    expect(await refusal('secret.pdf', makeEncryptedPdf())).toEqual({
      problem: 'encrypted',
      message: 'This PDF is password-protected; upload a copy without a password.',
    });
    const truncated = makePdf([[{ text: 'Hello' }]]).subarray(0, 120);
    expect(await refusal('cut.pdf', truncated)).toMatchObject({ problem: 'corrupt' });
    expect(await refusal('fake.pdf', 'Just some text')).toEqual({ problem: 'content_mismatch', message: 'This file is named .pdf but is not a PDF.' });
    expect(await refusal('picture.pdf', new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]))).toEqual({
      problem: 'content_mismatch',
      message: 'This file is named .pdf but is a PNG image.',
    });
  });

  test('a PDF with more pages than allowed is refused', async () => {
    const pdf = makePdf(Array.from({ length: 4 }, (_, index) => [{ text: `Page ${index + 1}` }]));
    expect(await refusal('long.pdf', pdf, { maxPages: 3 })).toMatchObject({ problem: 'too_large', message: expect.stringMatching(/has 4 pages; at most 3/) });
  });
});

describe('DOCX', () => {
  test('headings and table rows survive (mammoth, then the HTML reader)', async () => {
    const docx = makeDocx(
      wordParagraph('Staff handbook', 'Heading1') +
        wordParagraph('Welcome aboard.') +
        wordParagraph('Leave', 'Heading2') +
        wordTable([
          ['Years of service', 'Days of leave'],
          ['Under 5', '25'],
          ['5 or more', '30'],
        ]),
    );
    const { format, blocks } = await read('handbook.docx', docx);
    expect(format).toBe('docx');
    expect(blocks).toEqual([
      { kind: 'heading', text: 'Staff handbook', level: 1, headingPath: [] },
      { kind: 'paragraph', text: 'Welcome aboard.', headingPath: ['Staff handbook'] },
      { kind: 'heading', text: 'Leave', level: 2, headingPath: ['Staff handbook'] },
      { kind: 'row', text: 'Years of service: Under 5; Days of leave: 25', headingPath: ['Staff handbook', 'Leave'], row: 1, table: 0 },
      { kind: 'row', text: 'Years of service: 5 or more; Days of leave: 30', headingPath: ['Staff handbook', 'Leave'], row: 2, table: 0 },
    ]);
  });

  test('a zip bomb is refused before it is unpacked, also when its directory lies about its size', async () => {
    const bombing = makeDocx(wordParagraph('x'), { 'word/media/filler.xml': strToU8(' '.repeat(3 * 1024 * 1024)) });
    expect(await refusal('bomb.docx', bombing, { maxUncompressedBytes: 2 * 1024 * 1024 })).toMatchObject({
      problem: 'too_large',
      message: expect.stringMatching(/unpacks to more than 2 MB/),
    });
    const lying = makeZipBomb('word/document.xml', 80 * 1024 * 1024, 1_000);
    expect(lying.length).toBeLessThan(200_000);
    expect(await refusal('lying.docx', lying)).toMatchObject({ problem: 'too_large', message: expect.stringMatching(/unpacks to more than 64 MB/) });
  });

  test('a .docx that is not a Word document, or is encrypted, is refused with a clear reason', async () => {
    expect(await refusal('text.docx', 'hello')).toEqual({ problem: 'content_mismatch', message: 'This file is named .docx but is not a Word document.' });
    expect(await refusal('pdf.docx', makePdf([[{ text: 'x' }]]))).toEqual({ problem: 'content_mismatch', message: 'This file is named .docx but is a PDF.' });
    const ole = new Uint8Array([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0]);
    expect(await refusal('locked.docx', ole)).toMatchObject({ problem: 'encrypted' });
    const otherZip = makeZipBomb('readme.txt', 10, 10);
    expect(await refusal('other.docx', otherZip)).toEqual({
      problem: 'content_mismatch',
      message: 'This file is named .docx but is a ZIP archive without a Word document in it.',
    });
    const cut = makeDocx(wordParagraph('Hello')).subarray(0, 300);
    expect(await refusal('cut.docx', cut)).toMatchObject({ problem: 'corrupt' });
  });
});

describe('format detection and limits', () => {
  test('the name chooses the format, the declared type is used only without an extension', async () => {
    expect((await extractBlocks({ name: 'notes', contentType: 'text/markdown; charset=utf-8', bytes: encode('# Hi\n\nThere') })).format).toBe('md');
    expect((await extractBlocks({ name: 'notes.txt', contentType: 'application/pdf', bytes: encode('Plain') })).format).toBe('txt');
  });

  test('unsupported types are refused naming the supported ones', async () => {
    expect(await refusal('report.doc', 'x')).toEqual({
      problem: 'unsupported_type',
      message: 'This file type is not supported; upload .txt, .md, .html, .pdf, .docx, .csv or .json.',
    });
    expect(await refusal('noextension', 'x')).toMatchObject({ problem: 'unsupported_type' });
  });

  test('a binary file named .txt, invalid UTF-8 and an empty file are refused; UTF-16 text is read', async () => {
    expect(await refusal('binary.txt', new Uint8Array([0x41, 0x00, 0x42, 0x01, 0x02]))).toEqual({
      problem: 'content_mismatch',
      message: 'This file is named .txt but is binary data, not text.',
    });
    expect(await refusal('pdf.txt', makePdf([[{ text: 'x' }]]))).toEqual({ problem: 'content_mismatch', message: 'This file is named .txt but is a PDF.' });
    expect(await refusal('latin1.txt', new Uint8Array([0x63, 0x61, 0x66, 0xe9]))).toMatchObject({ problem: 'invalid_encoding' });
    expect(await refusal('empty.txt', '')).toMatchObject({ problem: 'no_text', message: 'This file is empty.' });
    expect(await refusal('blank.md', '# Only a heading\n')).toMatchObject({ problem: 'no_text' });
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('Café prices', 'utf16le')]);
    expect(texts((await read('utf16.txt', utf16)).blocks)).toEqual(['Café prices']);
  });

  test('size and text limits are enforced', async () => {
    expect(await refusal('big.txt', 'x'.repeat(2_000), { maxBytes: 1_000 })).toMatchObject({
      problem: 'too_large',
      message: expect.stringMatching(/larger than/),
    });
    expect(await refusal('long.txt', 'word '.repeat(1_000), { maxCharacters: 100 })).toMatchObject({
      problem: 'too_large',
      message: expect.stringMatching(/more than 100 characters/),
    });
    expect(await refusal('row.csv', `a\n${'x'.repeat(200)}\n`, { maxRowCharacters: 100 })).toMatchObject({
      problem: 'too_large',
      message: expect.stringMatching(/Row 1 of a table/),
    });
  });
});
