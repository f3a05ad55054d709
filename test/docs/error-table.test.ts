/**
 * The error table of docs/http-contract.md is held against errorCatalogue: every code listed
 * exactly once, with the catalogue's status and retryability, and no row for a code that does
 * not exist. Editing either side alone fails here.
 */
import { readFileSync } from 'node:fs';
import { errorCatalogue } from '@wamedia/shared';
import { describe, expect, it } from 'vitest';

const HEADER = '| code | status | retryable | meaning |';

interface ErrorRow {
  line: number;
  code: string;
  status: number;
  retryable: boolean;
  meaning: string;
}

/** The rows of the table that starts with HEADER; throws when a row does not parse. */
function parseErrorTable(markdown: string): ErrorRow[] {
  const lines = markdown.split('\n');
  const headers = lines.flatMap((line, index) => (line.trim() === HEADER ? [index] : []));
  if (headers.length !== 1) throw new Error(`expected one error table (${HEADER}), found ${headers.length}`);
  const rows: ErrorRow[] = [];
  // Skip the header and the |---| line; the table ends at the first line that is not a row.
  for (let index = headers[0]! + 2; index < lines.length && lines[index]!.trim().startsWith('|'); index++) {
    const cells = lines[index]!.trim().slice(1, -1).split(' | ').map((cell) => cell.trim());
    const [code, status, retryable, meaning] = cells;
    const codeMatch = /^`([A-Z0-9_]+)`$/.exec(code ?? '');
    if (cells.length !== 4 || !codeMatch || !/^\d{3}$/.test(status ?? '') || !/^(yes|no)$/.test(retryable ?? '') || !meaning) {
      throw new Error(`line ${index + 1} is not "| \`CODE\` | 123 | yes/no | meaning |": ${lines[index]}`);
    }
    rows.push({ line: index + 1, code: codeMatch[1]!, status: Number(status), retryable: retryable === 'yes', meaning });
  }
  return rows;
}

const docPath = new URL('../../docs/http-contract.md', import.meta.url);

describe('the error table of docs/http-contract.md', () => {
  const rows = parseErrorTable(readFileSync(docPath, 'utf8'));
  const catalogue = errorCatalogue as Record<string, { status: number; retryable: boolean }>;

  it('lists every code of errorCatalogue exactly once, and no other', () => {
    const listed = rows.map((row) => row.code);
    const repeated = listed.filter((code, index) => listed.indexOf(code) !== index);
    expect(repeated, 'codes listed more than once').toEqual([]);
    expect(listed.filter((code) => !(code in catalogue)), 'rows for codes not in errorCatalogue').toEqual([]);
    expect(Object.keys(catalogue).filter((code) => !listed.includes(code)), 'codes missing from the table').toEqual([]);
  });

  it('gives each code the status and retryability of errorCatalogue', () => {
    const documented = Object.fromEntries(rows.map((row) => [row.code, { status: row.status, retryable: row.retryable }]));
    const expected = Object.fromEntries(
      Object.entries(catalogue)
        .filter(([code]) => code in documented)
        .map(([code, { status, retryable }]) => [code, { status, retryable }]),
    );
    expect(documented).toEqual(expected);
  });
});

describe('parseErrorTable', () => {
  const table = (...rows: string[]) => ['intro', '', HEADER, '|---|---|---|---|', ...rows, '', 'after'].join('\n');

  it('reads the rows up to the end of the table', () => {
    expect(parseErrorTable(table('| `A_B` | 404 | no | gone |', '| `C` | 503 | yes | down, retry |'))).toEqual([
      { line: 5, code: 'A_B', status: 404, retryable: false, meaning: 'gone' },
      { line: 6, code: 'C', status: 503, retryable: true, meaning: 'down, retry' },
    ]);
  });

  it.each([
    ['a code without backticks', '| A_B | 404 | no | gone |'],
    ['a status that is not a number', '| `A_B` | four | no | gone |'],
    ['a retryable that is not yes or no', '| `A_B` | 404 | maybe | gone |'],
    ['a missing cell', '| `A_B` | 404 | no |'],
  ])('refuses %s', (_name, row) => {
    expect(() => parseErrorTable(table(row))).toThrow(/is not/);
  });

  it('refuses a document without exactly one table', () => {
    expect(() => parseErrorTable('no table here')).toThrow(/found 0/);
    expect(() => parseErrorTable(`${table()}\n${table()}`)).toThrow(/found 2/);
  });
});
