/**
 * Certificates made for a test: a CA, a server certificate it signs for `localhost` and
 * 127.0.0.1, and a client certificate it signs. Nothing is read from or written to the machine's
 * trust stores.
 */
import { generate } from 'selfsigned';

export interface TestPki {
  readonly ca: { readonly cert: string; readonly key: string };
  readonly server: { readonly cert: string; readonly key: string };
  readonly client: { readonly cert: string; readonly key: string };
}

async function authority(name: string): Promise<{ cert: string; key: string }> {
  const made = await generate([{ name: 'commonName', value: name }], {
    keySize: 2048,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { cert: made.cert, key: made.private };
}

/** A fresh CA with a server and a client certificate signed by it. */
export async function makeTestPki(name = 'codexd test CA'): Promise<TestPki> {
  const ca = await authority(name);
  const server = await generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    ca: { key: ca.key, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  });
  const client = await generate([{ name: 'commonName', value: 'codexd' }], {
    keySize: 2048,
    ca: { key: ca.key, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', clientAuth: true },
    ],
  });
  return { ca, server: { cert: server.cert, key: server.private }, client: { cert: client.cert, key: client.private } };
}
