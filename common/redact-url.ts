// URLs are logged; the secrets some carry (mqtt://user:secret@host) never are.

/** The URL with its password (and, when it does not parse, anything before an @) masked. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === '') return url;
    u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}
