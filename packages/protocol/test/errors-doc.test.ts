// docs/errors.md is the public reference of every error code: it must list
// exactly the codes of ERROR_CODES, each with the HTTP status ERROR_STATUS gives it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ERROR_STATUS } from '../src/index.js';

const page = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
// A table row whose first cell is a code: | `code` | status | meaning | …
const documented = new Map([...page.matchAll(/^\| `([a-z_]+)` \| (\d{3}|—|-)? ?\|/gm)].map((match) => [match[1]!, match[2]]));

describe('docs/errors.md', () => {
  it('documents every error code, and no code that does not exist', () => {
    expect([...documented.keys()].sort()).toEqual([...ERROR_CODES].sort());
  });

  it('gives each code the status the server answers with', () => {
    for (const code of ERROR_CODES) expect(`${code} ${documented.get(code)}`).toBe(`${code} ${ERROR_STATUS[code]}`);
  });
});
