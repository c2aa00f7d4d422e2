/** The wire protocol's major version. A change that an older peer cannot read bumps it. */
export const PROTOCOL_VERSION = 1;

/** The name the daemon reports in `initialize.serverInfo.name`. */
export const SERVER_NAME = 'codexd';

/**
 * The codexd package version, shared by the client and the daemon so each can tell the other
 * which release it is. A test keeps it equal to package.json's `version`.
 */
export const PACKAGE_VERSION = '0.1.0';
