/** The wire protocol's major version. A change that an older peer cannot read bumps it. */
export const PROTOCOL_VERSION = 1;

/** The name the daemon reports in `initialize.serverInfo.name`. */
export const SERVER_NAME = 'codexd';

/**
 * The codexd package version, shared by the client and the daemon so each can tell the other
 * which release it is. A test keeps it equal to package.json's `version`.
 */
export const PACKAGE_VERSION = '0.1.0';

/** Compares dotted release numbers (`0.10.2` > `0.9.9`); a pre-release suffix is ignored. */
export function compareVersions(a: string, b: string): number {
  const parse = (version: string): number[] => (version.split('-')[0] as string).split('.').map((part) => Number.parseInt(part, 10) || 0);
  const left = parse(a);
  const right = parse(b);
  for (let index = 0; index < Math.max(left.length, right.length); index++) {
    const difference = (left[index] ?? 0) - (right[index] ?? 0);
    if (difference !== 0) return Math.sign(difference);
  }
  return 0;
}
