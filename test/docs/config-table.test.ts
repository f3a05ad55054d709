/**
 * The configuration table of docs/operations.md names exactly the variables the configuration
 * schema reads (CONFIG_VARIABLES): a setting added to the code without a line in the docs, or a
 * documented one that no longer exists, fails here.
 */
import { readFileSync } from 'node:fs';
import { CONFIG_VARIABLES } from '@wamedia/server';
import { describe, expect, it } from 'vitest';

const HEADER = '| variable | default | meaning |';

/** The variable names in the first column of the table (a cell may name several: `A` / `B`). */
function documentedVariables(markdown: string): string[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => line.trim() === HEADER);
  if (start < 0) throw new Error(`no configuration table (${HEADER})`);
  const names: string[] = [];
  for (let index = start + 2; index < lines.length && lines[index]!.trim().startsWith('|'); index++) {
    const firstCell = lines[index]!.trim().slice(1).split(' | ')[0]!;
    names.push(...[...firstCell.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((match) => match[1]!));
  }
  return names;
}

describe('the configuration table of docs/operations.md', () => {
  const documented = documentedVariables(readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8'));

  it('names every variable the configuration reads, once, and no other', () => {
    expect(documented.filter((name, index) => documented.indexOf(name) !== index), 'listed twice').toEqual([]);
    expect([...documented].sort()).toEqual([...CONFIG_VARIABLES].sort());
  });
});
