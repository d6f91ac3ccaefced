// Real files for the knowledge tests, written byte by byte: PDFs in PDF
// syntax, DOCX archives zipped with fflate, so every extractor reads what an
// owner's program would have saved.
import { deflateRawSync } from 'node:zlib';
import { strToU8, zipSync, type Zippable } from 'fflate';

/** A line of a PDF page: its text, and its font size (12 unless said). */
export interface PdfLine {
  text: string;
  size?: number;
}

function pdfString(text: string): string {
  return `(${text.replace(/[\\()]/g, (character) => `\\${character}`)})`;
}

/**
 * A valid PDF with one page per entry, each line a text object in Helvetica
 * (larger sizes for headings); `extraTrailer` adds entries to the trailer
 * (an /Encrypt dictionary, for one).
 */
export function makePdf(pages: readonly (readonly PdfLine[])[], options: { extraTrailer?: string; extraObjects?: readonly string[] } = {}): Buffer {
  const objects: string[] = [];
  const add = (body: string) => objects.push(body);
  add('');
  add('');
  add('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>');
  const kids: number[] = [];
  for (const lines of pages) {
    let y = 740;
    const operations = lines.map((line) => {
      const size = line.size ?? 12;
      y -= size * 1.4;
      return `BT /F1 ${size} Tf 72 ${y.toFixed(1)} Td ${pdfString(line.text)} Tj ET`;
    });
    const content = operations.join('\n');
    add(`<< /Length ${Buffer.byteLength(content, 'latin1')} >>\nstream\n${content}\nendstream`);
    const contentId = objects.length;
    add(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${contentId} 0 R >>`);
    kids.push(objects.length);
  }
  for (const extra of options.extraObjects ?? []) add(extra);
  objects[0] = '<< /Type /Catalog /Pages 2 0 R >>';
  objects[1] = `<< /Type /Pages /Kids [${kids.map((kid) => `${kid} 0 R`).join(' ')}] /Count ${kids.length} >>`;
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, index) => {
    offsets.push(Buffer.byteLength(out, 'latin1'));
    out += `${index + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out, 'latin1');
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((offset) => `${String(offset).padStart(10, '0')} 00000 n \n`).join('')}`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R ${options.extraTrailer ?? ''}>>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

/** A PDF of scanned pages: each page only paints a grey image, with no text layer. */
export function makeScannedPdf(pageCount: number): Buffer {
  const pages: string[] = [];
  const objects: string[] = ['<< /Type /Catalog /Pages 2 0 R >>', ''];
  const pixels = Buffer.alloc(16 * 16, 0x80).toString('latin1');
  objects.push(
    `<< /Type /XObject /Subtype /Image /Width 16 /Height 16 /ColorSpace /DeviceGray /BitsPerComponent 8 /Length ${pixels.length} >>\nstream\n${pixels}\nendstream`,
  );
  for (let page = 0; page < pageCount; page += 1) {
    const content = 'q 540 0 0 720 36 36 cm /Im1 Do Q';
    objects.push(`<< /Length ${content.length} >>\nstream\n${content}\nendstream`);
    objects.push(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /Im1 3 0 R >> >> /Contents ${objects.length} 0 R >>`);
    pages.push(`${objects.length} 0 R`);
  }
  objects[1] = `<< /Type /Pages /Kids [${pages.join(' ')}] /Count ${pageCount} >>`;
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, index) => {
    offsets.push(Buffer.byteLength(out, 'latin1'));
    out += `${index + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out, 'latin1');
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((offset) => `${String(offset).padStart(10, '0')} 00000 n \n`).join('')}`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

/**
 * A PDF encrypted with the standard security handler and a user password:
 * the /Encrypt dictionary's password hashes match no empty password, so a
 * reader must ask for one.
 */
export function makeEncryptedPdf(): Buffer {
  const hash = (seed: number) => `<${Buffer.alloc(32, seed).toString('hex')}>`;
  return makePdf([[{ text: 'Secret' }]], {
    extraObjects: [`<< /Filter /Standard /V 1 /R 2 /O ${hash(0x11)} /U ${hash(0x22)} /P -4 >>`],
    extraTrailer: '/Encrypt 6 0 R /ID [<00112233445566778899aabbccddeeff> <00112233445566778899aabbccddeeff>] ',
  });
}

const wordNamespace = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"';

/** A Word paragraph, with a style (`Heading1`, …) if given. */
export function wordParagraph(text: string, style?: string): string {
  const properties = style ? `<w:pPr><w:pStyle w:val="${style}"/></w:pPr>` : '';
  return `<w:p>${properties}<w:r><w:t xml:space="preserve">${text}</w:t></w:r></w:p>`;
}

/** A Word table; the first row is marked as its header row. */
export function wordTable(rows: readonly (readonly string[])[]): string {
  const body = rows
    .map((cells, index) => {
      const header = index === 0 ? '<w:trPr><w:tblHeader/></w:trPr>' : '';
      return `<w:tr>${header}${cells.map((cell) => `<w:tc>${wordParagraph(cell)}</w:tc>`).join('')}</w:tr>`;
    })
    .join('');
  return `<w:tbl>${body}</w:tbl>`;
}

/** A DOCX archive whose document body is `body` (paragraphs and tables), with heading styles defined. */
export function makeDocx(body: string, extraParts: Zippable = {}): Uint8Array {
  const headingStyles = [1, 2, 3]
    .map((level) => `<w:style w:type="paragraph" w:styleId="Heading${level}"><w:name w:val="heading ${level}"/></w:style>`)
    .join('');
  return zipSync({
    '[Content_Types].xml': strToU8(
      '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>' +
        '<Default Extension="xml" ContentType="application/xml"/>' +
        '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>' +
        '</Types>',
    ),
    '_rels/.rels': strToU8(
      '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>' +
        '</Relationships>',
    ),
    'word/_rels/document.xml.rels': strToU8(
      '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>' +
        '</Relationships>',
    ),
    'word/styles.xml': strToU8(`<?xml version="1.0" encoding="UTF-8"?><w:styles ${wordNamespace}>${headingStyles}</w:styles>`),
    'word/document.xml': strToU8(`<?xml version="1.0" encoding="UTF-8"?><w:document ${wordNamespace}><w:body>${body}</w:body></w:document>`),
    ...extraParts,
  });
}

/**
 * A ZIP archive with one deflated entry of `size` bytes of spaces, whose
 * directory says it holds `declaredSize` bytes: a zip bomb that lies about itself.
 */
export function makeZipBomb(name: string, size: number, declaredSize: number): Uint8Array {
  const compressed = deflateRawSync(Buffer.alloc(size, 0x20), { level: 9 });
  const nameBytes = Buffer.from(name);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(compressed.length, 18);
  local.writeUInt32LE(declaredSize, 22);
  local.writeUInt16LE(nameBytes.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(compressed.length, 20);
  central.writeUInt32LE(declaredSize, 24);
  central.writeUInt16LE(nameBytes.length, 28);
  central.writeUInt32LE(0, 42);
  const directoryOffset = local.length + nameBytes.length + compressed.length;
  const directorySize = central.length + nameBytes.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(directorySize, 12);
  end.writeUInt32LE(directoryOffset, 16);
  return Buffer.concat([local, nameBytes, compressed, central, nameBytes, end]);
}
