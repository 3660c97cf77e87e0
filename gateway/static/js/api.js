// Calls to the retailer's gateway (docs/gateway.md), shared by the consent portal and the kiosk.
//
// - Every failure becomes an ApiError with the gateway's code; describe() turns it into a
//   sentence for people (the pages never show raw JSON).
// - A lost connection, a 502/503/504, or a request still running under the same key is retried
//   with exponential backoff and jitter. Writes are retried with the SAME Idempotency-Key and
//   body, so a write that did land is answered from the gateway's record instead of applied
//   twice (and the chaincode's own duplicate checks stand behind that).
// - Tests may shorten the backoff with `globalThis.prefshareConfig = {retry: {...}}` set before
//   the page's modules load.

import { base64url } from "./customer-crypto.js";

const DEFAULT_RETRY = { baseMs: 1000, maxMs: 30000, attempts: 5 };

export function retryPolicy() {
  return { ...DEFAULT_RETRY, ...(globalThis.prefshareConfig?.retry ?? {}) };
}

/** `bytes` random bytes as base64url: nonces, ids and idempotency keys. */
export function randomToken(bytes = 18) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** An Idempotency-Key (8..128 of A-Z a-z 0-9 _ . : -); made once per write, kept for retries. */
export function newIdempotencyKey(prefix) {
  return `${prefix}-${randomToken(18)}`;
}

export class ApiError extends Error {
  constructor(status, code, message, details = null) {
    super(message || code);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** Worth trying again later with the same request (and the same Idempotency-Key). */
  get retryable() {
    if (this.code === "SUGGESTIONS_NOT_CONFIGURED") return false;
    if (this.status === 0 || this.status === 502 || this.status === 503 || this.status === 504) {
      return true;
    }
    return this.status === 429 || this.code === "IDEMPOTENCY_KEY_IN_FLIGHT";
  }
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

export function backoffDelay(attempt, policy = retryPolicy()) {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
  return Math.round(ceiling * (0.5 + Math.random() * 0.5)); // jitter: retries do not align
}

async function once(method, path, { body, headers }) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: { Accept: "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (err) {
    throw new ApiError(0, "NETWORK", "the gateway could not be reached");
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const error = data && typeof data === "object" ? data.error : null;
    if (error && typeof error.code === "string") {
      throw new ApiError(response.status, error.code, error.message, error.details);
    }
    throw new ApiError(response.status, "HTTP_ERROR", `HTTP ${response.status}`);
  }
  return { status: response.status, data, text, headers: response.headers };
}

/**
 * One API call with retries.
 *
 * options: body (JSON-able), credential (store credential, sent as Bearer), idempotencyKey
 * (for writes: the caller makes it once and passes the same one to any later manual retry),
 * attempts (overrides the retry policy's count; 1 = no retry), onRetry({error, attempt, attempts, delayMs}) called before each wait, signal (AbortSignal).
 * Resolves to {status, data, text, headers}; rejects with ApiError (the last one seen).
 */
export async function call(method, path, options = {}) {
  const policy = retryPolicy();
  if (options.attempts) policy.attempts = options.attempts;
  const headers = {};
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (options.credential) headers.Authorization = `Bearer ${options.credential}`;
  if (options.idempotencyKey) headers["Idempotency-Key"] = options.idempotencyKey;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await once(method, path, { body: options.body, headers });
    } catch (err) {
      if (!(err instanceof ApiError) || !err.retryable || attempt >= policy.attempts) throw err;
      const delayMs = backoffDelay(attempt, policy);
      options.onRetry?.({ error: err, attempt, attempts: policy.attempts, delayMs });
      await sleep(delayMs, options.signal);
    }
  }
}

// Sentences for the gateway's and the chaincode's codes (docs/gateway.md, docs/chaincode.md).
const SENTENCES = {
  NETWORK: "The gateway cannot be reached. Check the network connection.",
  PEER_UNAVAILABLE: "The consortium ledger cannot be reached right now.",
  COMMIT_UNCONFIRMED:
    "The ledger did not confirm in time whether the request was recorded.",
  LEDGER_ERROR: "The ledger refused the request for a technical reason.",
  TRANSACTION_INVALID:
    "The ledger did not accept the change because it clashed with another one. Please try again.",
  UNAUTHENTICATED:
    "This device's store credential was not accepted. Staff can check it in the device settings.",
  FORBIDDEN: "This store's credential is not allowed to do this.",
  VALIDATION_FAILED: "The gateway could not accept the request: some information was not in the expected form.",
  PAYLOAD_TOO_LARGE: "The request is too large for the gateway.",
  NOT_FOUND: "The gateway does not offer this service.",
  METHOD_NOT_ALLOWED: "The gateway does not offer this service.",
  INTERNAL: "The gateway had an internal error. Please try again later.",
  HTTP_ERROR: "The gateway answered with an unexpected error.",
  IDEMPOTENCY_KEY_REQUIRED: "The page sent an incomplete request. Please reload the page and try again.",
  IDEMPOTENCY_KEY_MALFORMED: "The page sent an incomplete request. Please reload the page and try again.",
  IDEMPOTENCY_KEY_REUSED: "The page sent an inconsistent request. Please reload the page and try again.",
  IDEMPOTENCY_KEY_IN_FLIGHT: "The same request is still being processed.",
  CURSOR_INVALID: "The list could not be continued. Please reload the page.",
  WRONG_ACTION: "The signed request does not match what was asked for.",
  SUGGESTIONS_NOT_CONFIGURED:
    "This store's gateway has no product catalogue set up yet, so it cannot suggest products.",
  // The chaincode's record rules.
  MALFORMED_JSON: "The statement could not be read.",
  UNKNOWN_FIELD: "The statement holds a field the consortium does not know.",
  MISSING_FIELD: "The statement is missing a required part.",
  WRONG_TYPE: "Part of the statement is not in the expected form.",
  INVALID_VALUE: "Part of the statement has a value the consortium does not accept.",
  EMPTY_LIST: "Choose at least one retailer, one purpose and one kind of data.",
  DUPLICATE_VALUE: "The statement names the same choice twice.",
  EXPIRY_BEFORE_GIVEN: "The consent would end before it starts.",
  BATCH_TOO_LARGE: "Too many choices were sent at once.",
  DUPLICATE_EVENT_ID: "The same choice was sent twice in one batch.",
  NOT_YET_VALID:
    "Your device's clock seems to be ahead of the ledger's. Check the date and time settings, then sign again.",
  BACKDATED: "This signed statement is too old to be accepted. Please sign it again.",
  CONSENT_MISMATCH: "The statement changes something that cannot change for this consent.",
  MALFORMED_KEY: "Your key is not in a form the consortium accepts.",
  UNSUPPORTED_KEY: "Your key is not of a kind the consortium accepts.",
  MALFORMED_SIGNATURE: "The signature is not in the expected form.",
  BAD_SIGNATURE: "The signature did not match the statement, so nothing was changed.",
  CUSTOMER_MISMATCH: "The signed request belongs to a different customer id.",
  MISSING_ATTRIBUTE: "The retailer's gateway is not set up to do this.",
  RETAILER_MISMATCH: "The retailer's gateway is not set up to do this.",
  NOT_A_RECIPIENT: "The customer's consent does not include this retailer.",
  PURPOSE_NOT_GRANTED: "The customer's consent does not cover this purpose.",
  CATEGORY_NOT_GRANTED: "The customer's consent does not cover this kind of data.",
  CONSENT_EXPIRED: "This consent has expired.",
  CONSENT_WITHDRAWN: "This consent has already been withdrawn.",
  WIDENING_NOT_ALLOWED: "A consent can only be narrowed. To share more, give a new consent.",
  UNKNOWN_CUSTOMER: "This customer id is not registered yet.",
  // The same words as for an id never registered: a kiosk screen is read by anyone nearby.
  CUSTOMER_ERASED: "This customer id is not known here.",
  UNKNOWN_STORE: "This retailer has no store with this id in its catalogue.",
  CATALOGUE_NOT_CONFIGURED:
    "This store's gateway has no product catalogue set up yet.",
  CONSENT_NOT_FOUND: "There is no consent with this id for this customer.",
  CUSTOMER_EXISTS: "This key is already registered.",
  CONSENT_EXISTS: "A consent with this id already exists.",
  EVENT_EXISTS: "These choices were already recorded.",
  REPLAYED_NONCE: "This signed statement was already used. Please sign a new one.",
};

/** The error as a sentence for people; never the gateway's raw JSON. */
export function describe(error) {
  if (error instanceof ApiError) {
    return SENTENCES[error.code] ?? `The gateway refused the request (error ${error.status || "?"}).`;
  }
  return "Something went wrong in this page. Please reload it.";
}

/** "Trying again in 4 seconds (attempt 2 of 5)." */
export function describeRetry({ attempt, attempts, delayMs }) {
  const seconds = Math.max(1, Math.round(delayMs / 1000));
  return `Trying again in ${seconds} second${seconds === 1 ? "" : "s"} (attempt ${attempt + 1} of ${attempts}).`;
}

/** The consortium's members and the portal's defaults (served as /static/consortium.json). */
export async function loadConsortium(url) {
  const { data } = await call("GET", url);
  return data;
}
