// Log levels and formats as the command lines and config files name them. No pino here: config
// parsing and the agent library import these without loading the logger.

/** pino's levels, most verbose first, and `silent`. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** A level a line can have. */
export type LineLevel = Exclude<LogLevel, 'silent'>;
/** auto: readable on a terminal, JSON lines otherwise. */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
