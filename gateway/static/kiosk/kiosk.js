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
const CUSTOMER_ID = /^c_[A-Za-z0-9_-]{43}$/;
const STORE_ID = /^[A-Za-z0-9][A-Za-z0-9-]{0,39}$/;
const PROBE_CUSTOMER = `c_${"A".repeat(43)}`;
const PURPOSE = "personalisation";

const options = {
  flushMs: 1200, // choices made within this time travel in one batch
  idleMs: 120000, // back to the welcome screen after this long without a touch or key
  backgroundRetryMs: 30000,
  ...(globalThis.prefshareConfig?.kiosk ?? {}),
};

const state = {
  consortium: null,
  config: null,
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
    if (config && STORE_ID.test(config.store_id) && config.credential && config.msp_id) {
      return config;
    }
  } catch {
    // A damaged entry is treated as no configuration.
  }
  return null;
}

function retailerName() {
  return memberName(state.consortium, state.config.msp_id);
}

function show(view) {
  for (const id of ["setup-view", "identify-view", "customer-view"]) {
    $(`#${id}`).hidden = id !== view;
  }
}

function renderDeviceLine() {
  $("#device-line").textContent = state.config
    ? `${retailerName()}, store ${state.config.store_id}.`
    : "This kiosk is not set up yet.";
}

function openSetup() {
  endCustomer();
  const c = state.config;
  $("#setup-retailer").replaceChildren(...state.consortium.retailers.map(
    (r) => h("option", { value: r.msp_id, selected: c?.msp_id === r.msp_id }, r.display_name)));
  $("#setup-store").value = c?.store_id ?? "";
  $("#setup-credential").value = c?.credential ?? "";
  $("#setup-cancel").hidden = !c;
  clearStatus($("#setup-status"));
  show("setup-view");
  $("#setup-retailer").focus();
}

async function saveSetup(event) {
  event.preventDefault();
  const status = $("#setup-status");
  const config = {
    msp_id: $("#setup-retailer").value,
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
  showStatus(status, "wait", "Checking the credential with the gateway…");
  let note = "The gateway accepted the credential for this store.";
  try {
    // A suggestion request for an id no key can have: it checks the credential and that it
    // belongs to this store, and reads nothing about any customer.
    await call("GET", `/v1/stores/${config.store_id}/customers/${PROBE_CUSTOMER}/suggestions?n=1`,
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
    note = err.status === 0
      ? "The gateway could not be reached to check the credential; it will be checked on first use."
      : "The gateway accepted the credential.";
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
  state.customer = { id, abort: new AbortController() };
  $("#cards").replaceChildren();
  for (const el of ["#strategy", "#events-status"]) clearStatus($(el));
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
    && (recipients.includes("*") || recipients.includes(state.config.msp_id));
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
      showStatus(status, "info", (err.code === "CUSTOMER_ERASED"
        ? "This customer id is not known here (its data was erased)"
        : "This customer id is not registered yet") + ", so you see items that are popular "
        + "in this store.");
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

function card(item, index) {
  // The gateway words the strongest reason and its one source line (recommender/reasons.py);
  // an older gateway without them gets the first reason in the page's own words.
  const why = item.why ?? (item.reasons ?? []).slice(0, 1).map(reasonWords).join(" ");
  const source = item.source ?? sourceWords(item);
  const headingId = `item-${index}-name`;
  const facts = [item.category, item.brand, PRICE_WORDS[item.price_band] ?? item.price_band]
    .filter(Boolean).join(" · ");
  const button = (type, text, done) => h("button", {
    type: "button", class: "secondary", "aria-pressed": "false",
    "aria-describedby": headingId, "data-event": type,
    onclick: (event) => mark(item, type, event.currentTarget, done),
  }, text);
  return h("li", { class: "card", "data-item": item.item_id },
    h("h4", { id: headingId }, item.name ?? item.title ?? item.item_id),
    h("p", { class: "facts" }, facts),
    why ? h("p", { class: "reason" }, h("strong", {}, "Why: "), why) : null,
    h("p", { class: "source" }, source),
    h("div", { class: "actions" },
      button("like", "I like this", "Liked"), button("purchase", "I bought this", "Bought")));
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
    $("#cards").replaceChildren(...items.map(card));
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

function mark(item, type, button, doneText) {
  if (button.getAttribute("aria-pressed") === "true" || !state.customer) return;
  button.setAttribute("aria-pressed", "true");
  button.textContent = `✓ ${doneText}`;
  state.pending.push({
    customerId: state.customer.id,
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
  for (const { customerId, event } of state.pending.splice(0)) {
    if (!byCustomer.has(customerId)) byCustomer.set(customerId, []);
    byCustomer.get(customerId).push(event);
  }
  for (const [customerId, events] of byCustomer) {
    const batch = { key: newIdempotencyKey("events"), customerId,
                    storeId: state.config.store_id, events };
    state.unsent.set(batch.key, batch);
    sendBatch(batch);
  }
}

async function sendBatch(batch) {
  const status = $("#events-status");
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
  $("#refresh").addEventListener("click", () => state.customer && loadSuggestions(state.customer));
  for (const kind of ["pointerdown", "keydown"]) document.addEventListener(kind, touch);
  window.addEventListener("pagehide", flush);

  try {
    state.consortium = await loadConsortium(CONSORTIUM_URL);
  } catch (err) {
    showStatus($("#page-status"), "error",
      `This kiosk could not load its settings list. ${describe(err)}`,
      { label: "Reload", run: () => location.reload() });
    return;
  }
  await setUpScanning();
  state.config = readConfig();
  renderDeviceLine();
  retryUnsentLater();
  if (state.config) showWelcome();
  else openSetup();
  document.body.dataset.ready = "true";
}

start();
