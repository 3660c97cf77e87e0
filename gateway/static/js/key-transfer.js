// Bringing her key to another member's portal (another origin, its own key store) or to her
// phone, without a file: a transfer code, her key backup encrypted on her device under a
// passphrase the page makes and shows beside it, never inside it.
//
// - passphrase: 12 characters from a 31-letter alphabet without look-alikes (about 59 bits),
//   shown as three groups of four;
// - key: PBKDF2-SHA256 over the passphrase with a random 16-byte salt, 310,000 iterations,
//   giving an AES-GCM-256 key; the backup text (a JWK) is encrypted with a random 12-byte IV;
// - code: "pskey1." + base64url(salt || iv || ciphertext), about 380 characters; a link
//   carries it in its fragment (#key=...), which browsers never send to a server.
// Like the backup file, a code can be made only in the visit that created or restored the
// key: the key kept on the device is non-extractable.

import { base64url } from "./customer-crypto.js";

const PREFIX = "pskey1.";
const ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789";
const ITERATIONS = 310000;

function fromBase64url(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function newPassphrase() {
  const picks = [];
  // Rejection sampling keeps every letter equally likely (256 is not a multiple of 31).
  while (picks.length < 12) {
    for (const b of crypto.getRandomValues(new Uint8Array(16))) {
      if (b < 248 && picks.length < 12) picks.push(ALPHABET[b % ALPHABET.length]);
    }
  }
  return [0, 4, 8].map((i) => picks.slice(i, i + 4).join("")).join("-");
}

/** Lower-cased, without spaces or dashes: what she types may be grouped differently. */
const normalise = (passphrase) => passphrase.toLowerCase().replace(/[\s-]/g, "");

async function aesKey(passphrase, salt) {
  const material = await crypto.subtle.importKey(
    "raw", new TextEncoder().encode(normalise(passphrase)), "PBKDF2", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations: ITERATIONS }, material,
    { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
}

/** {code, passphrase} for a key backup's text. */
export async function makeTransferCode(backupText) {
  const passphrase = newPassphrase();
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(await crypto.subtle.encrypt(
    { name: "AES-GCM", iv }, await aesKey(passphrase, salt),
    new TextEncoder().encode(backupText)));
  const packed = new Uint8Array(salt.length + iv.length + sealed.length);
  packed.set(salt, 0);
  packed.set(iv, salt.length);
  packed.set(sealed, salt.length + iv.length);
  return { code: PREFIX + base64url(packed), passphrase };
}

/** The code in what she pasted or in a link's fragment, or null. */
export function transferCodeIn(text) {
  const found = String(text ?? "").match(/pskey1\.[A-Za-z0-9_-]{60,}/);
  return found ? found[0] : null;
}

/**
 * The backup text in a transfer code. Rejects with an Error whose message is a sentence when
 * the code is damaged or the passphrase is not the one shown with it.
 */
export async function openTransferCode(code, passphrase) {
  const found = transferCodeIn(code);
  if (!found) throw new Error("This is not a key transfer code: it starts with pskey1.");
  const packed = fromBase64url(found.slice(PREFIX.length));
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: packed.slice(16, 28) },
      await aesKey(passphrase, packed.slice(0, 16)), packed.slice(28));
    return new TextDecoder().decode(plain);
  } catch {
    throw new Error("The passphrase does not open this code. Check it against the one shown "
      + "with the code, or make a new code.");
  }
}
