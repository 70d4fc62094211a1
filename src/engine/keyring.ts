import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Store } from '../store/store.js';

/**
 * Encryption at rest for streams with encryption on: record data is sealed with AES-256-GCM under
 * key material kept per key id in the store (created on first use and shared by every frontend
 * of the store), and the key id is stored beside the record so it can be opened after the
 * stream's key changes or encryption is stopped. Stored form: 12-byte IV, 16-byte tag, ciphertext.
 */
export class KeyRing {
  private readonly keys = new Map<string, Buffer>();

  constructor(private readonly store: Store) {}

  /** The key material of a key id, loaded once per process. */
  private async material(keyId: string): Promise<Buffer> {
    let key = this.keys.get(keyId);
    if (!key) {
      key = await this.store.secret(`kms-key:${keyId}`, 32);
      this.keys.set(keyId, key);
    }
    return key;
  }

  async encrypt(keyId: string, data: Buffer): Promise<Buffer> {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', await this.material(keyId), iv);
    const body = Buffer.concat([cipher.update(data), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]);
  }

  async decrypt(keyId: string, stored: Buffer): Promise<Buffer> {
    const decipher = createDecipheriv('aes-256-gcm', await this.material(keyId), stored.subarray(0, 12));
    decipher.setAuthTag(stored.subarray(12, 28));
    return Buffer.concat([decipher.update(stored.subarray(28)), decipher.final()]);
  }
}
