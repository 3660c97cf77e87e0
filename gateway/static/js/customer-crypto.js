// The customer's key and signed statements in the browser, with WebCrypto only.
//
// The chaincode verifies what this module produces (chaincode/keys.py, chaincode/consent.py):
// - key: ECDSA P-256, public part exported as SPKI DER, base64url without padding;
// - customer id: "c_" + base64url(SHA-256(SPKI DER));
// - a statement is signed over its RFC 8785 canonical JSON (without the signature field);
//   WebCrypto's ECDSA signature is raw r||s (IEEE P1363), sent base64url;
// - times are Date.prototype.toISOString() strings.
// tests/integration/test_browser_signing.py runs this in Chromium against the chaincode's checks.

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256" };
const SIGNING = { name: "ECDSA", hash: "SHA-256" };

export function base64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// RFC 8785 (JCS) is defined in terms of ECMAScript's own JSON serialisation of strings and
// numbers, with object keys sorted by UTF-16 code units (the default Array sort), so these few
// lines are the scheme itself rather than a port of a library; they avoid a build step.
export function canonicalize(value) {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) {
      throw new TypeError("canonical JSON has no NaN or Infinity");
    }
    if (value === undefined || typeof value === "function" || typeof value === "bigint") {
      throw new TypeError(`canonical JSON cannot hold ${typeof value}`);
    }
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalize).join(",")}]`;
  const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalize(value[k])}`).join(",")}}`;
}

export async function createKeyPair() {
  return crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
}

export async function exportPublicKey(publicKey) {
  return base64url(await crypto.subtle.exportKey("spki", publicKey));
}

export async function customerIdFor(publicKey) {
  const spki = await crypto.subtle.exportKey("spki", publicKey);
  return `c_${base64url(await crypto.subtle.digest("SHA-256", spki))}`;
}

// The statement as the customer sees it before signing, and the signed wire form.
export async function signStatement(privateKey, statement) {
  if ("signature" in statement) throw new TypeError("statement is already signed");
  const bytes = new TextEncoder().encode(canonicalize(statement));
  const signature = await crypto.subtle.sign(SIGNING, privateKey, bytes);
  return { ...statement, signature: base64url(signature) };
}

// A backup the customer keeps (JWK of the private key); never sent anywhere.
export async function exportKeyBackup(keyPair) {
  return JSON.stringify(await crypto.subtle.exportKey("jwk", keyPair.privateKey));
}

export async function importKeyBackup(text) {
  const jwk = JSON.parse(text);
  const privateKey = await crypto.subtle.importKey("jwk", jwk, ALGORITHM, true, ["sign"]);
  const { d: _drop, ...pub } = jwk;
  const publicKey = await crypto.subtle.importKey(
    "jwk", { ...pub, key_ops: ["verify"] }, ALGORITHM, true, ["verify"]);
  return { privateKey, publicKey };
}
