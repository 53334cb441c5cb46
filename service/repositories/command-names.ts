/** The Redis commands the service runs: the closed set of the `command` tag's values. */
export const COMMAND_NAMES = ['get', 'set', 'del', 'incr', 'scan', 'mget', 'ping'] as const

export type CommandName = typeof COMMAND_NAMES[number]
