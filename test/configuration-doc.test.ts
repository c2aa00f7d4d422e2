import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import * as config from '../daemon/config.js';
import { FEEDBACK_KEYS } from '../daemon/config-sections.js';
import { KNOWN_KEYS } from '../daemon/config-values.js';

const doc = readFileSync(new URL('../docs/configuration.md', import.meta.url), 'utf8');

/** The keys each table codexd reads may hold, as the readers check them. */
function tablesInSource(): Map<string, string[]> {
  const tables = new Map<string, string[]>(Object.entries(KNOWN_KEYS).map(([table, keys]) => [table, [...keys]]));
  tables.set('feedback', [...FEEDBACK_KEYS]);
  return tables;
}

/** The text of the `## ` section whose heading names the table as `` `[table]` ``, up to the next `## `. */
function sectionOf(table: string): string | null {
  const sections = doc.split(/^(?=## )/m);
  return sections.find((section) => (section.split('\n')[0] as string).includes(`\`[${table}]\``)) ?? null;
}

describe('docs/configuration.md', () => {
  const tables = tablesInSource();

  it('finds the tables of daemon/config.ts', () => {
    expect([...tables.keys()].sort()).toEqual(expect.arrayContaining(['analytics', 'codexd', 'codexd.file_exporter', 'feedback', 'otel']));
    for (const [table, keys] of tables) expect(keys.length, table).toBeGreaterThan(0);
  });

  it('has a section per table with a row for each of its keys', () => {
    const missing: string[] = [];
    for (const [table, keys] of tables) {
      const section = sectionOf(table);
      if (section === null) {
        missing.push(`no section headed \`[${table}]\``);
        continue;
      }
      for (const key of keys) {
        if (!new RegExp(`^\\| \`${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\` \\|`, 'm').test(section)) missing.push(`[${table}] ${key}`);
      }
    }
    expect(missing).toEqual([]);
  });

  // Written as `5000` (`DEFAULT_EXPORT_INTERVAL_MS`), or with a note: `600000` (`DEFAULT_IDLE_TIMEOUT_MS`, 10 min).
  it('gives every default of daemon/config.ts', () => {
    const defaults = Object.entries(config).filter((entry): entry is [string, number] => entry[0].startsWith('DEFAULT_') && typeof entry[1] === 'number');
    expect(defaults.length).toBeGreaterThan(0);
    for (const [name, value] of defaults) expect(doc, name).toContain(`\`${value}\` (\`${name}\``);
  });
});
