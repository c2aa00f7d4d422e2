/** `npm run docs`: writes docs/metrics.md and docs/events.md from the catalog. */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { renderEventsDoc, renderMetricsDoc } from './catalog-docs.js';

// This file runs from dist/daemon/; docs/ is at the package root.
const root = fileURLToPath(new URL('../../', import.meta.url));
writeFileSync(`${root}docs/metrics.md`, renderMetricsDoc());
writeFileSync(`${root}docs/events.md`, renderEventsDoc());
process.stdout.write('wrote docs/metrics.md and docs/events.md\n');
