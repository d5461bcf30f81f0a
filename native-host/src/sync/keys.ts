/** The key manager as the sync engine's key source. */
import type { KeyManager } from '../keys/index.js';
import type { SyncKeys } from './incoming.js';

export function keyManagerKeys(manager: KeyManager): SyncKeys {
  return {
    decryptionKeys: () => manager.decryptionKeys(),
    senderKeys: (sender) => manager.keysForSender(sender),
    learn: (harvested) => manager.learn(harvested),
    ownKey: async () => {
      const active = (await manager.ownKeys())[0];
      return active
        ? {
            address: active.address,
            privateArmored: active.privateArmored,
            publicArmored: active.publicArmored,
          }
        : null;
    },
  };
}
