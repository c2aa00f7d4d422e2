/** The wire protocol's major version. A change that an older peer cannot read bumps it. */
export const PROTOCOL_VERSION = 1;

/** The name the daemon reports in `initialize.serverInfo.name`. */
export const SERVER_NAME = 'codexd';
