/** The machine a run measured on, as the doc and the printed summary name it. */
import * as os from 'node:os';

import { ROOT } from './daemon.ts';

export interface Machine {
  readonly cpu: string;
  readonly memory: string;
  readonly os: string;
  readonly node: string;
}

export function machine(): Machine {
  const list = os.cpus();
  return {
    cpu: `${list[0]?.model.trim() ?? 'unknown'} × ${list.length}`,
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: `${process.version} (${process.execPath.startsWith(ROOT) ? 'the pinned node from node_modules' : process.execPath})`,
  };
}
