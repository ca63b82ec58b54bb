// The release version every command prints for --version: package.json's, read at build time
// (esbuild inlines the JSON into each bundle) or from the source tree when run with tsx.
import pkg from '../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;
