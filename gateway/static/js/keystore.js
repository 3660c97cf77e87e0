// Where the portal keeps the customer's key on this device: IndexedDB, as CryptoKey objects.
//
// The private key is stored NON-EXTRACTABLE: a script running later in this origin can ask the
// browser to sign with it, but cannot read it out. So the backup file (a JWK, made by
// customer-crypto.js) can only be written while the extractable key from creation or restore
// is still in memory, i.e. in the same visit; the portal offers it then. A stored JWK would let
// any later script (or anyone reading the browser profile) copy the key.
//
// Without IndexedDB (some private browsing modes) the key lives in memory for this visit only,
// and the portal says so.

import { customerIdFor, exportKeyBackup, importKeyBackup } from "./customer-crypto.js";

const DB_NAME = "prefshare-portal";
const STORE = "keys";
const RECORD = "customer";
const ALGORITHM = { name: "ECDSA", namedCurve: "P-256" };

function openDb() {
  return new Promise((resolve, reject) => {
    if (!globalThis.indexedDB) {
      reject(new Error("IndexedDB is not available"));
      return;
    }
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function withStore(mode, action) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = action(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/**
 * A key pair as the portal holds it: {privateKey (non-extractable), publicKey, customerId,
 * backupText (JWK text, only in the visit that made or restored it), persisted}.
 */
async function lock(backupText) {
  const restored = await importKeyBackup(backupText); // checks the file is a P-256 JWK pair
  const jwk = JSON.parse(backupText);
  const privateKey = await crypto.subtle.importKey("jwk", jwk, ALGORITHM, false, ["sign"]);
  return {
    privateKey,
    publicKey: restored.publicKey,
    customerId: await customerIdFor(restored.publicKey),
    backupText,
  };
}

async function persist(held) {
  try {
    await withStore("readwrite", (store) => store.put(
      { privateKey: held.privateKey, publicKey: held.publicKey, customerId: held.customerId,
        savedAt: new Date().toISOString() }, RECORD));
    return { ...held, persisted: true };
  } catch {
    return { ...held, persisted: false };
  }
}

/** Make a new key pair (customer-crypto.js), keep it locked on this device. */
export async function createAndKeep(makeKeyPair) {
  const pair = await makeKeyPair();
  return persist(await lock(await exportKeyBackup(pair)));
}

/**
 * Replace the key on this device by the one in a backup file's text.
 * Rejects with an Error whose message is a sentence when the file is not a key backup.
 */
export async function restoreAndKeep(backupText) {
  let held;
  try {
    held = await lock(backupText);
  } catch {
    throw new Error("This file is not a prefshare key backup.");
  }
  return persist(held);
}

/** The key kept on this device, or null. */
export async function loadKept() {
  let record;
  try {
    record = await withStore("readonly", (store) => store.get(RECORD));
  } catch {
    return null;
  }
  if (!record) return null;
  return { privateKey: record.privateKey, publicKey: record.publicKey,
           customerId: record.customerId, backupText: null, persisted: true };
}

export async function forgetKept() {
  try {
    await withStore("readwrite", (store) => store.delete(RECORD));
  } catch {
    // Nothing was kept.
  }
}
