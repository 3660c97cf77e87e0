// The store kiosk: set up once per device, then for each customer: identify, show her consent
// status for this retailer, suggestions with their reasons, and record what she likes or buys.
//
// Nothing about a customer is kept on the device: her id, consent and suggestions live in this
// page's memory until "next customer" or the idle timeout clears them. Only choices that could
// not be saved yet stay in memory, and are retried with the same Idempotency-Key.

import { call, describe, describeRetry, loadConsortium, newIdempotencyKey, randomToken }
  from "../static/js/api.js";
import { renderQr } from "../static/js/qr.js";
import { $, clearStatus, formatDate, h, listInWords, memberName, showStatus }
  from "../static/js/ui.js";

const CONFIG_KEY = "prefshare.kiosk.config";
const CONSORTIUM_URL = "../static/consortium.json";
/** The retailer whose gateway serves this page: the kiosk serves it and no other. */
const RETAILER_URL = "../v1/retailer";
const CUSTOMER_ID = /^c_[A-Za-z0-9_-]{43}$/;
const STORE_ID = /^[A-Za-z0-9][A-Za-z0-9-]{0,39}$/;
const PURPOSE = "personalisation";

const options = {
  flushMs: 1200, // choices made within this time travel in one batch
  idleMs: 120000, // back to the welcome screen after this long without a touch or key
  backgroundRetryMs: 30000,
  ...(globalThis.prefshareConfig?.kiosk ?? {}),
};

const state = {
  consortium: null,
  retailer: null, // {msp_id, name} from the gateway
  config: null, // {store_id, credential}
  customer: null, // {id, abort: AbortController}
  pending: [], // events not yet in a batch
  unsent: new Map(), // batch key -> batch, until the gateway confirms it
  flushTimer: null,
  idleTimer: null,
};

// -- configuration ------------------------------------------------------------------------

function readConfig() {
  try {
    const config = JSON.parse(localStorage.getItem(CONFIG_KEY) ?? "null");
    // A retailer saved by an older page is dropped: the gateway says which retailer it is.
    if (config && STORE_ID.test(config.store_id) && config.credential) {
      return { store_id: config.store_id, credential: config.credential };
    }
  } catch {
    // A damaged entry is treated as no configuration.
  }
  return null;
}

function retailerName() {
  return memberName(state.consortium, state.retailer.msp_id);
}

function show(view) {
  for (const id of ["setup-view", "identify-view", "customer-view"]) {
    $(`#${id}`).hidden = id !== view;
  }
}

function renderRetailer() {
  $("#retailer-name").textContent = `${retailerName()}: `;
  document.title = `${retailerName()} store kiosk · prefshare`;
}

function renderDeviceLine() {
  $("#device-line").textContent = state.config
    ? `${retailerName()}, store ${state.config.store_id}.`
    : "This kiosk is not set up yet.";
}

function openSetup() {
  endCustomer();
  const c = state.config;
  $("#setup-retailer").textContent = retailerName();
  $("#setup-store").value = c?.store_id ?? "";
  $("#setup-credential").value = c?.credential ?? "";
  $("#setup-cancel").hidden = !c;
  clearStatus($("#setup-status"));
  show("setup-view");
  $("#setup-store").focus();
}

async function saveSetup(event) {
  event.preventDefault();
  const status = $("#setup-status");
  const config = {
    store_id: $("#setup-store").value.trim(),
    credential: $("#setup-credential").value.trim(),
  };
  if (!STORE_ID.test(config.store_id)) {
    showStatus(status, "error", "Enter the store id: letters, digits and dashes, up to 40.");
    $("#setup-store").focus();
    return;
  }
  if (!config.credential.startsWith("psk_")) {
    showStatus(status, "error", "Enter the store credential; it starts with psk_.");
    $("#setup-credential").focus();
    return;
  }
  showStatus(status, "wait", "Checking the store and its credential with the gateway…");
  let note = `The gateway accepted the credential for this ${retailerName()} store.`;
  try {
    // Checks the credential, that it is this store's, and that the retailer's catalogue
    // has this store; reads nothing about any customer.
    await call("GET", `/v1/stores/${config.store_id}`,
               { credential: config.credential, attempts: 1 });
  } catch (err) {
    if (err.code === "UNAUTHENTICATED") {
      showStatus(status, "error", "The gateway did not accept this credential. Nothing was saved.");
      $("#setup-credential").focus();
      return;
    }
    if (err.code === "FORBIDDEN") {
      showStatus(status, "error", "This credential belongs to another store. Nothing was saved.");
      $("#setup-store").focus();
      return;
    }
    if (err.code === "UNKNOWN_STORE") {
      showStatus(status, "error", `${retailerName()} has no store with this id in its `
        + "catalogue. Nothing was saved.");
      $("#setup-store").focus();
      return;
    }
    if (err.status !== 0 && err.code !== "CATALOGUE_NOT_CONFIGURED") {
      showStatus(status, "error", `${describe(err)} Nothing was saved.`);
      return;
    }
    note = err.status === 0
      ? "The gateway could not be reached to check the credential; it will be checked on first use."
      : "The gateway accepted the credential; it has no catalogue yet to check the store in.";
  }
  localStorage.setItem(CONFIG_KEY, JSON.stringify(config));
  state.config = config;
  renderDeviceLine();
  showWelcome();
  showStatus($("#identify-status"), "ok", `Settings saved. ${note}`);
}

// -- identifying the customer --------------------------------------------------------------

function showWelcome() {
  show("identify-view");
  $("#customer-id-input").value = "";
  clearStatus($("#identify-status"));
  $("#customer-id-input").focus();
}

/** The customer id in what she typed or scanned (a bare id, or any text holding one). */
function customerIdIn(text) {
  const trimmed = (text ?? "").trim();
  if (CUSTOMER_ID.test(trimmed)) return trimmed;
  const found = trimmed.match(/c_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/);
  return found ? found[0] : null;
}

function identify(text) {
  const id = customerIdIn(text);
  if (!id) {
    showStatus($("#identify-status"), "error",
      "That is not a customer id. It starts with c_ followed by 43 letters, digits, - or _.");
    $("#customer-id-input").focus();
    return;
  }
  startCustomer(id);
}

let scanning = null; // {stream, detector, timer}

async function setUpScanning() {
  let formats = [];
  if ("BarcodeDetector" in globalThis) {
    try {
      formats = await globalThis.BarcodeDetector.getSupportedFormats();
    } catch {
      formats = [];
    }
  }
  const available = formats.includes("qr_code");
  $("#scan-area").hidden = !available;
  $("#scan-unavailable").hidden = available;
}

async function startScan() {
  const status = $("#identify-status");
  try {
    const detector = new globalThis.BarcodeDetector({ formats: ["qr_code"] });
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    const video = $("#scanner");
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    $("#scan-stop").hidden = false;
    $("#scan-start").hidden = true;
    showStatus(status, "info", "Hold your QR code in front of the camera.");
    scanning = { stream, detector, timer: setInterval(async () => {
      const codes = await detector.detect(video).catch(() => []);
      if (codes.length) {
        stopScan();
        identify(codes[0].rawValue);
      }
    }, 300) };
  } catch {
    stopScan();
    showStatus(status, "error", "The camera cannot be used here. Please type your customer id.");
  }
}

function stopScan() {
  if (scanning) {
    clearInterval(scanning.timer);
    scanning.stream.getTracks().forEach((track) => track.stop());
    scanning = null;
  }
  const video = $("#scanner");
  video.srcObject = null;
  video.hidden = true;
  $("#scan-stop").hidden = true;
  $("#scan-start").hidden = false;
}

async function scanPicture(event) {
  const file = event.target.files?.[0];
  event.target.value = "";
  if (!file) return;
  try {
    const detector = new globalThis.BarcodeDetector({ formats: ["qr_code"] });
    const codes = await detector.detect(await createImageBitmap(file));
    if (codes.length) {
      identify(codes[0].rawValue);
      return;
    }
  } catch {
    // Reported below.
  }
  showStatus($("#identify-status"), "error",
             "No QR code could be read from that picture. Please type your customer id.");
}

// -- the present customer ------------------------------------------------------------------

function startCustomer(id) {
  endCustomer();
  // known: null until the ledger answers, false for an id it does not know (never
  // registered, or erased: the screen says the same for both), else true.
  state.customer = { id, abort: new AbortController(), known: null };
  $("#cards").replaceChildren();
  $("#found").replaceChildren();
  $("#find-input").value = "";
  $("#find-panel").hidden = false;
  for (const el of ["#strategy", "#events-status", "#find-status"]) clearStatus($(el));
  $("#suggestions-notice").hidden = true;
  $("#data-sources").hidden = true;
  $("#invitation").hidden = true;
  show("customer-view");
  $("#customer-heading").focus();
  touch();
  loadConsent(state.customer);
  loadSuggestions(state.customer);
}

function endCustomer() {
  stopScan();
  clearTimeout(state.idleTimer);
  if (!state.customer) return;
  flush();
  state.customer.abort.abort(new DOMException("next customer", "AbortError"));
  state.customer = null;
  $("#cards").replaceChildren();
  $("#found").replaceChildren();
  $("#consent-status").replaceChildren();
}

function finish() {
  endCustomer();
  showWelcome();
}

function touch() {
  clearTimeout(state.idleTimer);
  if (state.customer) state.idleTimer = setTimeout(finish, options.idleMs);
}

const isCurrent = (customer) => state.customer === customer;

function retrying(el, customer) {
  return (r) => {
    if (isCurrent(customer)) showStatus(el, "wait", `${describe(r.error)} ${describeRetry(r)}`);
  };
}

function coversThisRetailer(consent) {
  const recipients = consent.recipients ?? [];
  return consent.status === "active" && (consent.purposes ?? []).includes(PURPOSE)
    && (recipients.includes("*") || recipients.includes(state.retailer.msp_id));
}

async function invite() {
  const url = new URL("../portal/", location.href).href;
  const link = $("#portal-link");
  link.href = url;
  link.textContent = url;
  $("#invitation").hidden = false;
  await renderQr($("#portal-qr"), url, "QR code of the consent portal's address");
}

async function loadConsent(customer) {
  const status = $("#consent-status");
  showStatus(status, "wait", "Checking your consent…");
  try {
    const { data } = await call("GET", `/v1/customers/${customer.id}/consents?limit=100`, {
      credential: state.config.credential, signal: customer.abort.signal,
      onRetry: retrying(status, customer),
    });
    if (!isCurrent(customer)) return;
    customer.known = true;
    const consents = (data?.items ?? []).filter(coversThisRetailer);
    if (consents.length === 0) {
      showStatus(status, "info", `You have not shared your preferences with ${retailerName()}, `
        + "so you see items that are popular in this store.");
      await invite();
      return;
    }
    const categories = [...new Set(consents.flatMap((c) => c.data_categories ?? []))];
    const until = consents.map((c) => c.expires_at).sort().at(-1);
    showStatus(status, "ok", `You share ${listInWords(categories.map(categoryWords))} with `
      + `${retailerName()} for personal suggestions, until ${formatDate(until)}.`);
  } catch (err) {
    if (!isCurrent(customer)) return;
    if (err.code === "UNKNOWN_CUSTOMER" || err.code === "CUSTOMER_ERASED") {
      // Never registered or erased: the same words for both, since anyone nearby can read
      // the screen; and nothing can be recorded for this id, so no button offers it.
      customer.known = false;
      withoutActions();
      showStatus(status, "info", `This customer id is not known at ${retailerName()}, so you `
        + "see items that are popular in this store.");
      await invite();
    } else if (err.retryable) {
      showStatus(status, "error", `Your consent cannot be checked right now. ${describe(err)}`,
                 { label: "Try again", run: () => isCurrent(customer) && loadConsent(customer) });
    } else {
      showStatus(status, "error", describe(err));
    }
  }
}

// -- suggestions ------------------------------------------------------------------------

const STRATEGY_WORDS = {
  personalised: "Picked for you from the preferences you shared.",
  cold_start_stated: "Picked from the preferences you told us about.",
  popularity: "Popular in this store.",
};

const CATEGORY_WORDS = {
  purchases: "what you bought",
  views: "what you looked at and liked",
  stated_preferences: "the preferences you told us",
};
const categoryWords = (c) => CATEGORY_WORDS[c] ?? c;

const PRICE_WORDS = { budget: "Budget", mid: "Mid-range", premium: "Premium" };

function featureWords(feature) {
  const [kind, ...rest] = String(feature).split(":");
  const value = rest.join(":");
  if (!value) return feature;
  if (kind === "category") return value;
  if (kind === "brand") return `the brand ${value}`;
  if (kind === "price") return `${(PRICE_WORDS[value] ?? value).toLowerCase()} prices`;
  if (kind === "retailer") return `items from ${memberName(state.consortium, value)}`;
  return value;
}

function reasonWords(reason) {
  const who = memberName(state.consortium, reason.retailer);
  switch (reason.kind) {
    case "activity":
      return `Because of ${categoryWords(reason.category ?? reason.detail)} at ${who}.`;
    case "stated_preference":
      return `You told ${who} you like ${featureWords(reason.detail)}.`;
    case "similar_item":
      return `Similar to something you chose at ${who}.`;
    case "item_feature":
      return `Suits your taste for ${featureWords(reason.detail)}.`;
    case "context":
      return `Often chosen by ${who}'s customers.`;
    case "popularity":
      return `Popular at ${who}.`;
    default:
      return `Suggested by ${who}.`;
  }
}

function sourceWords(item) {
  const reasons = item.reasons ?? [];
  const fromHer = [...new Set(reasons.filter((r) => r.category).map((r) => r.retailer))];
  if (fromHer.length) {
    return `Informed by your data from ${listInWords(fromHer.map((r) => memberName(state.consortium, r)))}.`;
  }
  const shops = [...new Set(reasons.map((r) => r.retailer))];
  if (shops.length) {
    return `Based on ${listInWords(shops.map((r) => memberName(state.consortium, r)))}'s sales, not on your data.`;
  }
  return "Not based on your data.";
}

/** Remove every record button once her id turns out unknown (nothing could be saved). */
function withoutActions() {
  for (const el of document.querySelectorAll("#cards .actions, #found .actions")) el.remove();
  $("#find-panel").hidden = true;
}

const EVENT_BUTTONS = {
  view: ["I looked at this", "Looked at"],
  like: ["I like this", "Liked"],
  purchase: ["I bought this", "Bought"],
};

/** A product card; `types` are the choices it offers, `statusEl` where saving is reported. */
function card(item, index, { prefix = "item", types = ["like", "purchase"],
                             statusEl = $("#events-status") } = {}) {
  // The gateway words the strongest reason and its one source line (recommender/reasons.py);
  // an older gateway without them gets the first reason in the page's own words. Items found
  // by search carry no reasons: their card shows the code on the label instead.
  const why = item.why ?? (item.reasons ?? []).slice(0, 1).map(reasonWords).join(" ");
  const source = item.source ?? (item.reasons ? sourceWords(item) : `Item code ${item.item_id}`);
  const headingId = `${prefix}-${index}-name`;
  const facts = [item.category, item.brand, PRICE_WORDS[item.price_band] ?? item.price_band]
    .filter(Boolean).join(" · ");
  const button = (type, text, done) => h("button", {
    type: "button", class: "secondary", "aria-pressed": "false",
    "aria-describedby": headingId, "data-event": type,
    onclick: (event) => mark(item, type, event.currentTarget, done, statusEl),
  }, text);
  const actions = state.customer?.known === false ? null
    : h("div", { class: "actions" },
      types.map((type) => button(type, ...EVENT_BUTTONS[type])));
  return h("li", { class: "card", "data-item": item.item_id },
    h("h4", { id: headingId }, item.name ?? item.title ?? item.item_id),
    h("p", { class: "facts" }, facts),
    why ? h("p", { class: "reason" }, h("strong", {}, "Why: "), why) : null,
    h("p", { class: "source" }, source),
    actions);
}

async function loadSuggestions(customer) {
  const status = $("#strategy");
  showStatus(status, "wait", "Finding products for you…");
  try {
    const { data } = await call("GET",
      `/v1/stores/${state.config.store_id}/customers/${customer.id}/suggestions?n=10`, {
        credential: state.config.credential, signal: customer.abort.signal,
        onRetry: retrying(status, customer),
      });
    if (!isCurrent(customer)) return;
    const popular = data.strategy === "popularity";
    const names = (data.data_sources ?? []).map((r) => memberName(state.consortium, r));
    // One account of her data per answer: popular items never claim to be based on her data
    // (her purchases may still have been left out, which the notice says).
    showStatus(status, popular ? "info" : "ok",
               (STRATEGY_WORDS[data.strategy] ?? "Products from this store.")
               + (popular && names.length === 0 ? " These suggestions use none of your shared data." : ""));
    const notice = $("#suggestions-notice");
    notice.hidden = !data.notice;
    notice.textContent = data.notice ? `Why: ${data.notice}` : "";
    const sources = $("#data-sources");
    sources.hidden = popular || names.length === 0;
    sources.textContent = !popular && names.length ? `Based on your data from ${listInWords(names)}.` : "";
    const items = data.items ?? [];
    $("#cards").replaceChildren(...items.map((item, i) => card(item, i)));
    if (items.length === 0) {
      showStatus(status, "info", "There are no products to suggest in this store right now.");
    }
  } catch (err) {
    if (!isCurrent(customer)) return;
    showStatus(status, "error", `No suggestions can be shown right now. ${describe(err)}`,
               err.retryable || err.code === "NOT_FOUND"
                 ? { label: "Try again", run: () => isCurrent(customer) && loadSuggestions(customer) }
                 : null);
  }
}

// -- what she likes or buys ----------------------------------------------------------------

/** An event id (Id pattern: starts with a letter or digit), unique per event. */
const eventId = () => `e${randomToken(12)}`;
/** The catalogue category as the event schema's id form. */
const categoryId = (c) => String(c).replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]/, "x").slice(0, 64);

function mark(item, type, button, doneText, statusEl) {
  if (button.getAttribute("aria-pressed") === "true" || !state.customer) return;
  button.setAttribute("aria-pressed", "true");
  button.textContent = `✓ ${doneText}`;
  state.pending.push({
    customerId: state.customer.id, statusEl,
    event: { event_id: eventId(), item_id: item.item_id, item_category: categoryId(item.category),
             event_type: type, value: 1.0, timestamp: new Date().toISOString() },
  });
  clearTimeout(state.flushTimer);
  state.flushTimer = setTimeout(flush, options.flushMs);
}

/** Put the pending choices into batches (one per customer) and send them. */
function flush() {
  clearTimeout(state.flushTimer);
  const byCustomer = new Map();
  for (const { customerId, event, statusEl } of state.pending.splice(0)) {
    if (!byCustomer.has(customerId)) byCustomer.set(customerId, { events: [], statusEl });
    const batch = byCustomer.get(customerId);
    batch.events.push(event);
    batch.statusEl = statusEl; // reported beside the last choice made
  }
  for (const [customerId, { events, statusEl }] of byCustomer) {
    const batch = { key: newIdempotencyKey("events"), customerId,
                    storeId: state.config.store_id, events, statusEl };
    state.unsent.set(batch.key, batch);
    sendBatch(batch);
  }
}

async function sendBatch(batch) {
  const status = batch.statusEl ?? $("#events-status");
  const visible = () => state.customer?.id === batch.customerId;
  const n = batch.events.length;
  if (visible()) showStatus(status, "wait", `Saving your ${n === 1 ? "choice" : `${n} choices`}…`);
  batch.sending = true;
  try {
    await call("POST", `/v1/stores/${batch.storeId}/customers/${batch.customerId}/events`, {
      body: { events: batch.events }, credential: state.config.credential,
      idempotencyKey: batch.key,
      onRetry: (r) => visible() && showStatus(status, "wait",
        `Your choices are not saved yet. ${describe(r.error)} ${describeRetry(r)}`),
    });
    state.unsent.delete(batch.key);
    if (visible()) showStatus(status, "ok", n === 1 ? "Your choice was saved." : `Your ${n} choices were saved.`);
  } catch (err) {
    if (!err.retryable) state.unsent.delete(batch.key);
    if (visible()) {
      showStatus(status, "error", err.retryable
        ? `Your choices are not saved yet. ${describe(err)} They will be sent again.`
        : `Your choices could not be saved. ${describe(err)}`,
        err.retryable ? { label: "Try again", run: () => sendBatch(batch) } : null);
    }
  } finally {
    batch.sending = false;
  }
}

/** Batches that could not be saved are sent again now and then, under their own keys. */
function retryUnsentLater() {
  setInterval(() => {
    for (const batch of state.unsent.values()) {
      if (!batch.sending) sendBatch(batch);
    }
  }, options.backgroundRetryMs);
}

// -- any item of the store -----------------------------------------------------------------

async function findItems(event) {
  event.preventDefault();
  const customer = state.customer;
  const status = $("#find-status");
  const query = $("#find-input").value.trim();
  if (!customer) return;
  if (!query) {
    showStatus(status, "error", "Type part of the item's name, its brand or its item code.");
    $("#find-input").focus();
    return;
  }
  showStatus(status, "wait", "Looking in this store's catalogue…");
  try {
    const { data } = await call("GET", `/v1/stores/${state.config.store_id}/items?`
      + new URLSearchParams({ q: query.slice(0, 100), limit: "12" }), {
      credential: state.config.credential, signal: customer.abort.signal,
      onRetry: retrying(status, customer),
    });
    if (!isCurrent(customer)) return;
    const items = data?.items ?? [];
    $("#found").replaceChildren(...items.map((item, i) => card(item, i,
      { prefix: "found", types: ["view", "like", "purchase"], statusEl: status })));
    if (items.length) {
      showStatus(status, "ok", `${items.length === 1 ? "1 item" : `${items.length} items`} `
        + `of this store match "${query}".`);
    } else {
      showStatus(status, "info", `No item of this store matches "${query}". Try another word `
        + "or the code on the item's label.");
    }
  } catch (err) {
    if (!isCurrent(customer)) return;
    showStatus(status, "error", `The catalogue cannot be searched right now. ${describe(err)}`);
  }
}

// -- start ------------------------------------------------------------------------------

async function start() {
  $("#setup-form").addEventListener("submit", saveSetup);
  $("#setup-cancel").addEventListener("click", showWelcome);
  $("#settings").addEventListener("click", openSetup);
  $("#identify-form").addEventListener("submit", (event) => {
    event.preventDefault();
    identify($("#customer-id-input").value);
  });
  $("#scan-start").addEventListener("click", startScan);
  $("#scan-stop").addEventListener("click", stopScan);
  $("#scan-picture").addEventListener("change", scanPicture);
  $("#finish").addEventListener("click", finish);
  $("#find-form").addEventListener("submit", findItems);
  $("#refresh").addEventListener("click", () => state.customer && loadSuggestions(state.customer));
  for (const kind of ["pointerdown", "keydown"]) document.addEventListener(kind, touch);
  window.addEventListener("pagehide", flush);

  try {
    state.consortium = await loadConsortium(CONSORTIUM_URL);
    state.retailer = (await call("GET", RETAILER_URL)).data;
  } catch (err) {
    showStatus($("#page-status"), "error",
      `This kiosk could not load its settings list. ${describe(err)}`,
      { label: "Reload", run: () => location.reload() });
    return;
  }
  await setUpScanning();
  state.config = readConfig();
  renderRetailer();
  renderDeviceLine();
  retryUnsentLater();
  if (state.config) showWelcome();
  else openSetup();
  document.body.dataset.ready = "true";
}

start();
