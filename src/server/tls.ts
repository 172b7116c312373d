import { isIP } from 'node:net';
import type { generate as Generate } from 'selfsigned';

/** A PEM certificate and its private key. */
export interface KeyPair {
  key: string;
  cert: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * TLS 1.2 with forward secrecy and AEAD only (ECDHE with AES-GCM or ChaCha20-Poly1305: no CBC, CCM8 or
 * ARIA); TLS 1.3's suites unchanged. The API server's Go client offers these by default.
 */
export const TLS_POLICY = {
  minVersion: 'TLSv1.2' as const,
  ciphers: [
    'TLS_AES_128_GCM_SHA256',
    'TLS_AES_256_GCM_SHA384',
    'TLS_CHACHA20_POLY1305_SHA256',
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
};

function validity(days: number): { notBeforeDate: Date; notAfterDate: Date } {
  // Backdated a little so a client whose clock runs behind still accepts a fresh certificate.
  const now = Date.now();
  return { notBeforeDate: new Date(now - 5 * 60 * 1000), notAfterDate: new Date(now + days * DAY_MS) };
}

/** selfsigned (and the forge library under it) is loaded only when a certificate is made: a webhook given --cert/--key never pays its memory. */
async function generate(...args: Parameters<typeof Generate>): ReturnType<typeof Generate> {
  const { generate: make } = await import('selfsigned');
  return make(...args);
}

export async function makeCertificateAuthority(commonName: string, days = 365): Promise<KeyPair> {
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    ...validity(days),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

/**
 * A serving certificate whose SANs cover every host (DNS names and IP addresses). Signed by `ca`
 * when given, so the API server can trust the CA in caBundle; otherwise self-signed.
 */
export async function makeServingCertificate(hosts: string[], ca?: KeyPair, days = 365): Promise<KeyPair> {
  return makeLeafCertificate(hosts[0] ?? 'storage-policy-webhook', hosts, 'serverAuth', ca, days);
}

/** A client certificate (for the API server's side of mTLS), signed by `ca`. */
export async function makeClientCertificate(commonName: string, ca: KeyPair, days = 365): Promise<KeyPair> {
  return makeLeafCertificate(commonName, [], 'clientAuth', ca, days);
}

/**
 * A leaf certificate: serving certificates carry SANs for every host (DNS names and IP addresses) and
 * are signed by `ca` when given (so the API server can trust the CA in caBundle), otherwise self-signed.
 */
async function makeLeafCertificate(
  commonName: string,
  hosts: string[],
  usage: 'serverAuth' | 'clientAuth',
  ca: KeyPair | undefined,
  days: number,
): Promise<KeyPair> {
  const altNames = hosts.map((host) =>
    isIP(host) ? { type: 7 as const, ip: host } : { type: 2 as const, value: host },
  );
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    ...validity(days),
    ...(ca ? { ca: { key: ca.key, cert: ca.cert } } : {}),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', ...(usage === 'serverAuth' ? { serverAuth: true } : { clientAuth: true }) },
      ...(altNames.length > 0 ? [{ name: 'subjectAltName' as const, altNames }] : []),
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

export const DEFAULT_SELF_SIGNED_HOSTS = ['localhost', '127.0.0.1', '::1'];
