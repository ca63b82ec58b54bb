// X.509 certificates for a site's own small PKI (`tally-hub tls init`): a self-signed CA and the
// certificates it issues, ECDSA P-256 with SHA-256, written with node:crypto and a DER encoder of
// the few ASN.1 types a certificate needs (RFC 5280 section 4.1). No OpenSSL command and no
// library: @peculiar/x509 brings eleven packages (tsyringe, reflect-metadata, ...) and node-forge
// signs only RSA. Node's own X509Certificate parses and checks what this writes (test/hub/x509.test.ts).

import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

// ---- DER (X.690), the subset certificates use ----

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

const tlv = (tag: number, body: Uint8Array): Buffer => Buffer.concat([Buffer.from([tag]), length(body.length), body]);
const seq = (...items: Uint8Array[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Uint8Array[]): Buffer => tlv(0x31, Buffer.concat(items));
const explicit = (n: number, body: Uint8Array): Buffer => tlv(0xa0 | n, body);
const octets = (b: Uint8Array): Buffer => tlv(0x04, b);
const bits = (b: Uint8Array, unused = 0): Buffer => tlv(0x03, Buffer.concat([Buffer.from([unused]), b]));
const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));

/** A non-negative INTEGER from big-endian bytes (a leading 0 keeps it positive). */
function uint(b: Uint8Array): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const body = Buffer.from(b.subarray(i));
  return tlv(0x02, body[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), body]) : body);
}

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const n of rest) {
    const group = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) group.unshift((v & 0x7f) | 0x80);
    out.push(...group);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 section 4.1.2.5). */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z'; // YYYYMMDDHHMMSSZ
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2))) : tlv(0x18, Buffer.from(iso));
}

// ---- Certificates ----

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyId: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyId: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

const name = (commonName: string, organization: string): Buffer =>
  seq(set(seq(oid(OID.organization), utf8(organization))), set(seq(oid(OID.commonName), utf8(commonName))));

const extension = (id: string, critical: boolean, value: Uint8Array): Buffer =>
  seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

/** The SHA-1 of the subject public key's bits (RFC 5280 section 4.2.1.2, method 1). */
function keyId(spki: Buffer): Buffer {
  // The bit string of SubjectPublicKeyInfo is the uncompressed point 04 || x || y.
  const key = createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(key.x!, 'base64url'), Buffer.from(key.y!, 'base64url')]);
  return createHash('sha1').update(point).digest();
}

/** An IPv4 or IPv6 address as the 4 or 16 bytes of an iPAddress general name. */
function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  const [head, tail = ''] = ip.split('::') as [string, string?];
  const groups = (s: string) => (s ? s.split(':') : []);
  const h = groups(head);
  const t = groups(tail);
  const all = ip.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return Buffer.from(all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
}

export type CertificateRole = 'ca' | 'server' | 'client';

export interface CertificateRequest {
  role: CertificateRole;
  commonName: string;
  /** DNS names and IP addresses (subjectAltName); a server certificate needs at least one. */
  altNames?: readonly string[];
  days: number;
  /** The issuing CA; absent for the self-signed CA itself. */
  issuer?: { certificatePem: string; key: KeyObject; commonName: string };
  organization?: string;
  now?: Date;
}

export interface IssuedCertificate {
  certificatePem: string;
  keyPem: string;
}

/** Issues a certificate with a fresh P-256 key: the site CA (self-signed), a server or a client. */
export function issueCertificate(req: CertificateRequest): IssuedCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const organization = req.organization ?? 'Tally site';
  const now = req.now ?? new Date();
  // Valid from an hour ago: a device whose clock runs a little behind still accepts it.
  const notBefore = new Date(now.getTime() - 3_600_000);
  const notAfter = new Date(now.getTime() + req.days * 86_400_000);
  const ski = keyId(spki);
  const signer = req.issuer?.key ?? privateKey;
  const issuerName = name(req.issuer?.commonName ?? req.commonName, organization);
  const issuerKeyId = req.issuer
    ? keyId(createPublicKey(req.issuer.certificatePem).export({ type: 'spki', format: 'der' }))
    : ski;

  const extensions: Buffer[] = [extension(OID.subjectKeyId, false, octets(ski))];
  extensions.push(extension(OID.authorityKeyId, false, seq(tlv(0x80, issuerKeyId))));
  if (req.role === 'ca') {
    extensions.push(extension(OID.basicConstraints, true, seq(bool(true), uint(Buffer.from([0])))));
    // keyCertSign (bit 5) and cRLSign (bit 6): 0b0000011 in 7 bits, 1 unused.
    extensions.push(extension(OID.keyUsage, true, bits(Buffer.from([0x06]), 1)));
  } else {
    extensions.push(extension(OID.basicConstraints, true, seq()));
    // digitalSignature (bit 0), all an ECDHE-ECDSA handshake needs.
    extensions.push(extension(OID.keyUsage, true, bits(Buffer.from([0x80]), 7)));
    extensions.push(
      extension(OID.extKeyUsage, false, seq(oid(req.role === 'server' ? OID.serverAuth : OID.clientAuth))),
    );
  }
  const altNames = req.altNames ?? [];
  if (altNames.length > 0) {
    const general = altNames.map((n) => (isIP(n) ? tlv(0x87, ipBytes(n)) : tlv(0x82, Buffer.from(n, 'ascii'))));
    extensions.push(extension(OID.subjectAltName, false, seq(...general)));
  }

  const algorithm = seq(oid(OID.ecdsaWithSha256));
  const tbs = seq(
    explicit(0, uint(Buffer.from([2]))), // v3
    uint(Buffer.concat([Buffer.from([0x40 | (randomBytes(1)[0]! & 0x3f)]), randomBytes(15)])), // positive, 16 bytes
    algorithm,
    issuerName,
    seq(time(notBefore), time(notAfter)),
    name(req.commonName, organization),
    spki,
    explicit(3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, signer); // DER ECDSA-Sig-Value, as X.509 wants it
  const der = seq(tbs, algorithm, bits(signature));
  const certificatePem = `-----BEGIN CERTIFICATE-----\n${der
    .toString('base64')
    .replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;
  return { certificatePem, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/** A host name or address usable in a subjectAltName. */
export function validAltName(n: string): boolean {
  return isIP(n) !== 0 || /^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(n);
}
