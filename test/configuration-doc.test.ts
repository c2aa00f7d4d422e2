import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import * as config from '../daemon/config.js';

const doc = readFileSync(new URL('../docs/configuration.md', import.meta.url), 'utf8');
const source = readFileSync(new URL('../daemon/config.ts', import.meta.url), 'utf8');

/** The quoted strings of a list in config.ts's source, such as `['enabled', 'endpoint']`. */
function quoted(list: string): string[] {
  return [...list.matchAll(/'([^']+)'/g)].map((match) => match[1] as string);
}

/**
 * The keys each table codexd reads may hold, from the source of daemon/config.ts: its
 * `KNOWN_KEYS` and `FEEDBACK_KEYS` are not exported, and the test must not depend on that.
 */
function tablesInSource(): Map<string, string[]> {
  const tables = new Map<string, string[]>();
  const known = /const KNOWN_KEYS\b[^=]*=\s*\{([\s\S]*?)\n\};/.exec(source);
  if (known === null) throw new Error('daemon/config.ts: KNOWN_KEYS not found');
  for (const entry of (known[1] as string).matchAll(/(?:'([\w.-]+)'|([\w-]+))\s*:\s*\[([^\]]*)\]/g)) {
    tables.set((entry[1] ?? entry[2]) as string, quoted(entry[3] as string));
  }
  const feedback = /const FEEDBACK_KEYS\b[^=]*=\s*\[([^\]]*)\]/.exec(source);
  if (feedback === null) throw new Error('daemon/config.ts: FEEDBACK_KEYS not found');
  tables.set('feedback', quoted(feedback[1] as string));
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
