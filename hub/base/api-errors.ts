// One table of management error codes (device, channel, settlement operations), each with the HTTP
// status the API answers with. The CLI prints the same codes. Handlers throw ApiError(code); the
// router turns it into `{ "error": { "code", "message" } }`. docs/api.md documents every code.
// Every layer (settlement exports too) throws this one error; errorBody() and apiErrorFromBody()
// below are its body's two directions (the router's answer, the CLI reading a running hub's).

export const API_ERRORS = {
  API_UNAUTHORIZED: {
    status: 401,
    message:
      'missing or wrong token (Authorization: Bearer <token>): changes need the admin token; reads, where they need one, the read or the admin token',
  },
  API_NOT_FOUND: { status: 404, message: 'no such resource' },
  API_METHOD: { status: 405, message: 'method not allowed on this resource' },
  API_BAD_JSON: { status: 400, message: 'body is not valid JSON' },
  API_BODY_TOO_LARGE: { status: 413, message: 'request body over the size limit' },
  API_INVALID: { status: 400, message: 'a field, parameter or the request target is missing or invalid' },
  API_CONFLICT: { status: 409, message: 'the resource already exists or is in a state that forbids this' },
  API_HOST_DENIED: {
    status: 421,
    message: 'the Host header names neither this hub nor an allowed name (tally-hub start --allowed-host)',
  },
  API_BUSY: { status: 503, message: 'too many live streams open; try again later' },
  API_RATE_LIMITED: { status: 429, message: 'too many requests from this address; slow down and try again' },
  API_INTERNAL: { status: 500, message: 'internal error; see the hub log' },
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    readonly detail?: string,
  ) {
    super(detail ?? API_ERRORS[code].message);
  }
  get status(): number {
    return API_ERRORS[this.code].status;
  }
}

/** The body the API answers an error with: `{ "error": { "code", "message" } }`. */
export function errorBody(e: ApiError): { error: { code: ApiErrorCode; message: string } } {
  return { error: { code: e.code, message: e.message } };
}

/** The ApiError an error body stands for; a body that is not one is API_INTERNAL with its text. */
export function apiErrorFromBody(text: string): ApiError {
  try {
    const e = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
    if (e && typeof e.code === 'string' && Object.hasOwn(API_ERRORS, e.code))
      return new ApiError(e.code as ApiErrorCode, typeof e.message === 'string' ? e.message : undefined);
  } catch {
    /* not JSON: keep the text */
  }
  return new ApiError('API_INTERNAL', text);
}
