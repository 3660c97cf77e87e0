// The customer's consent portal: her key, registration, consent statements and her rights.
//
// Everything she signs goes through confirmSigning(): a readable summary and the exact RFC 8785
// bytes her signature will cover, then an explicit "Sign and send". Signing and canonical form
// come from customer-crypto.js (the module the chaincode's checks are tested against).

import { canonicalize, createKeyPair, exportPublicKey, signStatement }
  from "../static/js/customer-crypto.js";
import { call, describe, describeRetry, loadConsortium, newIdempotencyKey, randomToken }
  from "../static/js/api.js";
import { makeTransferCode, openTransferCode, transferCodeIn }
  from "../static/js/key-transfer.js";
import { createAndKeep, forgetKept, loadKept, restoreAndKeep } from "../static/js/keystore.js";
import { renderQr } from "../static/js/qr.js";
import { $, clearStatus, download, formatDate, h, listInWords, memberName, showStatus }
  from "../static/js/ui.js";

const CONSORTIUM_URL = "../static/consortium.json";
/** The member whose gateway serves this page (her rights requests name it). */
const RETAILER_URL = "../v1/retailer";
const NEEDS_KEY = ["#register-section", "#grant-section", "#consents-section", "#rights-section"];
const ERASE_WORD = "ERASE";
/** A consent id as this portal, the kiosks and the app make them (chaincode Id, "k-" first). */
const CONSENT_ID = /^k-[A-Za-z0-9._-]{1,62}$/;

// ledger: the consents of her last signed read, {customerId, readAt, consents, more}; memory only.
const state = { consortium: null, key: null, ledger: null, retailer: null };

// -- local records (this device only) ------------------------------------------------------

const journalKey = () => `prefshare.portal.journal.${state.key.customerId}`;
const registeredKey = () => `prefshare.portal.registered.${state.key.customerId}`;
/** When she last erased her data from this device: what she signed before it is withdrawn. */
const erasedKey = () => `prefshare.portal.erased.${state.key.customerId}`;

function readJournal() {
  try {
    const entries = JSON.parse(localStorage.getItem(journalKey()) ?? "[]");
    return Array.isArray(entries) ? entries : [];
  } catch {
    return [];
  }
}

function writeJournal(entries) {
  localStorage.setItem(journalKey(), JSON.stringify(entries));
}

function upsertJournal(entry) {
  const entries = readJournal().filter((e) => e.idempotency_key !== entry.idempotency_key);
  entries.push(entry);
  writeJournal(entries);
  renderConsents();
}

// -- labels -----------------------------------------------------------------------------

function label(list, id) {
  return (state.consortium?.[list] ?? []).find((x) => x.id === id)?.label ?? id;
}

function scopeSummary(statement) {
  const shops = statement.recipients.map((r) => memberName(state.consortium, r));
  return [
    ["Shops", listInWords(shops)],
    ["For", listInWords(statement.purposes.map((p) => label("purposes", p)))],
    ["Your data", listInWords(statement.data_categories.map((c) => label("data_categories", c)))],
    ["Until", formatDate(statement.expires_at)],
  ];
}

function summaryList(rows) {
  return h("ul", { class: "summary" },
    rows.map(([name, value]) => h("li", {}, h("strong", {}, `${name}: `), value)));
}

// -- signing ----------------------------------------------------------------------------

/** Show what she is about to sign; resolves to the signed document, or null if she cancels. */
function confirmSigning(title, intro, rows, unsigned) {
  const dialog = $("#sign-dialog");
  $("#sign-title").textContent = title;
  $("#sign-intro").textContent = intro;
  $("#sign-summary").replaceChildren(summaryList(rows));
  $("#sign-canonical").textContent = canonicalize(unsigned);
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", async () => {
      if (dialog.returnValue !== "confirm") {
        resolve(null);
        return;
      }
      resolve(await signStatement(state.key.privateKey, unsigned));
    }, { once: true });
    dialog.showModal();
  });
}

function statementBase(action, consentId, jurisdiction) {
  return {
    action,
    consent_id: consentId,
    customer_id: state.key.customerId,
    given_at: new Date().toISOString(),
    nonce: randomToken(24),
    collection_method: "web",
    policy_version: state.consortium.policy_version,
    jurisdiction: jurisdiction ?? state.consortium.jurisdiction,
  };
}

function newConsentId() {
  const day = new Date().toISOString().slice(0, 10).replaceAll("-", "");
  return `k-${day}-${randomToken(6).replace(/[-_]/g, "x")}`;
}

// -- sending, with retries under the same Idempotency-Key ---------------------------------

/** `where`: the status element, or a function finding it (the lists are drawn again). */
async function sendStatement(entry, where) {
  const statusEl = typeof where === "function" ? where : () => where;
  entry.state = "sending";
  upsertJournal(entry);
  showStatus(statusEl(), "wait", "Sending your signed statement to the ledger…");
  try {
    await call("POST", "/v1/consents", {
      body: entry.signed,
      idempotencyKey: entry.idempotency_key,
      onRetry: (r) => showStatus(statusEl(), "wait", `${describe(r.error)} ${describeRetry(r)}`),
    });
    entry.state = "recorded";
    delete entry.error;
    upsertJournal(entry);
    showStatus(statusEl(), "ok", entry.signed.action === "withdraw"
      ? "Your consent was withdrawn on the ledger."
      : "Your consent was recorded on the ledger.");
  } catch (err) {
    entry.error = describe(err);
    if (err.retryable) {
      entry.state = "waiting";
      upsertJournal(entry);
      showStatus(statusEl(), "error",
        `${describe(err)} Your signed statement is kept on this device; nothing was recorded yet.`,
        { label: "Send again", run: () => sendStatement(entry, where) });
    } else {
      entry.state = "refused";
      upsertJournal(entry);
      showStatus(statusEl(), "error", `${describe(err)} The statement was not recorded.`);
    }
  }
}

// -- 1. key -----------------------------------------------------------------------------

function renderRetailer() {
  const name = memberName(state.consortium, state.retailer.msp_id);
  $("#retailer-name").textContent = `${name}: `;
  document.title = `${name} consent portal · prefshare`;
}

/**
 * The other members' portals, where she brings this same key (backup file or transfer code);
 * with a code made, each link carries it in its fragment.
 */
function renderOtherPortals(code = null) {
  const members = state.retailer?.members ?? [];
  $("#other-portals").hidden = members.length === 0;
  $("#member-portals").replaceChildren(...members.map((m) => h("li", {},
    h("a", { href: code ? `${m.portal_url}#key=${code}` : m.portal_url, rel: "noopener" },
      `${memberName(state.consortium, m.msp_id)}'s consent portal`,
      code ? " (with your transfer code)" : ""))));
}

async function makeTransfer() {
  if (!state.key?.backupText) return;
  const { code, passphrase } = await makeTransferCode(state.key.backupText);
  $("#transfer-passphrase-shown").textContent = passphrase;
  $("#transfer-code-out").value = code;
  $("#transfer-made").hidden = false;
  renderOtherPortals(code);
  await renderQr($("#transfer-qr"), `${new URL("../portal/", location.href).href}#key=${code}`,
                 "QR code that opens this portal on your phone with your transfer code");
  $("#transfer-code-out").focus();
}

async function bringWithCode(event) {
  event.preventDefault();
  const status = $("#transfer-in-status");
  const code = transferCodeIn($("#transfer-code").value);
  const passphrase = $("#transfer-passphrase").value;
  if (!code) {
    showStatus(status, "error", "Paste the transfer code first: it starts with pskey1.");
    $("#transfer-code").focus();
    return;
  }
  if (!passphrase.trim()) {
    showStatus(status, "error", "Type the passphrase shown beside the code.");
    $("#transfer-passphrase").focus();
    return;
  }
  showStatus(status, "wait", "Opening the transfer code…");
  try {
    state.key = await restoreAndKeep(await openTransferCode(code, passphrase));
  } catch (err) {
    showStatus(status, "error", err.message || "The transfer code could not be opened.");
    $("#transfer-passphrase").focus();
    return;
  }
  $("#transfer-code").value = "";
  $("#transfer-passphrase").value = "";
  clearStatus(status);
  await renderKey();
  showStatus($("#key-status"), "ok", "Your key was brought here from the transfer code: "
    + "the same customer id as at the other portal.");
  $("#customer-id").scrollIntoView({ block: "center" });
}

/** A link or QR code from another portal carries a transfer code in the fragment. */
function takeCodeFromAddress() {
  const code = transferCodeIn(decodeURIComponent(location.hash));
  if (!code) return;
  history.replaceState(null, "", location.pathname + location.search); // off the address bar
  if (state.key) return; // a key is here already: nothing to bring
  $("#transfer-code").value = code;
  showStatus($("#transfer-in-status"), "info", "The transfer code is filled in: type its "
    + "passphrase, shown on the other page.");
  $("#transfer-passphrase").focus();
}

async function copyId() {
  const status = $("#copy-status");
  try {
    await navigator.clipboard.writeText(state.key.customerId);
    showStatus(status, "ok", "Your customer id was copied.");
  } catch {
    // No clipboard (an insecure page, or permission refused): select it for her to copy.
    const range = document.createRange();
    range.selectNodeContents($("#customer-id"));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    showStatus(status, "info", "Your customer id is selected: copy it with Ctrl+C "
      + "(or Cmd+C, or a long press on a phone).");
  }
}

async function renderKey() {
  const key = state.key;
  $("#no-key").hidden = Boolean(key);
  $("#has-key").hidden = !key;
  for (const selector of NEEDS_KEY) {
    const section = $(selector);
    section.inert = !key;
    section.classList.toggle("needs-key", !key);
  }
  if (state.ledger?.customerId !== key?.customerId) dropLedgerRead();
  if (!key) return;
  $("#customer-id").textContent = key.customerId;
  clearStatus($("#copy-status"));
  renderOtherPortals();
  const note = $("#backup-note");
  const backupButton = $("#download-backup");
  $("#transfer-out").hidden = !key.backupText;
  $("#transfer-made").hidden = true;
  if (key.backupText) {
    backupButton.disabled = false;
    note.textContent = "Download a backup now and keep it somewhere safe: anyone holding the file "
      + "can sign as you. It can only be made during this visit, because this device keeps your "
      + "key locked so that it cannot be copied later.";
  } else {
    backupButton.disabled = true;
    note.textContent = "Your key is locked on this device, so no new backup can be made. "
      + "Use the backup file you saved when you created or restored the key.";
  }
  if (!key.persisted) {
    note.textContent += " This browser does not let the portal keep your key: it is lost "
      + "when you close this page.";
  }
  renderRegistered();
  renderConsents();
  await renderQr($("#customer-qr"), key.customerId, `QR code of your customer id ${key.customerId}`);
}

async function createKey() {
  const status = $("#key-status");
  showStatus(status, "wait", "Creating your key…");
  try {
    state.key = await createAndKeep(createKeyPair);
  } catch {
    showStatus(status, "error", "This browser could not create a key (it needs WebCrypto over HTTPS).");
    return;
  }
  await renderKey();
  showStatus(status, "ok", "Your key was created. Download a backup of it now.");
  $("#download-backup").focus();
}

async function restoreKey(event) {
  const file = event.target.files?.[0];
  const status = $("#key-status");
  if (!file) return;
  try {
    state.key = await restoreAndKeep(await file.text());
  } catch (err) {
    showStatus(status, "error", err.message || "This file is not a prefshare key backup.");
    event.target.value = "";
    return;
  }
  event.target.value = "";
  await renderKey();
  showStatus(status, "ok", "Your key was restored from the backup file.");
  $("#customer-id").scrollIntoView({ block: "center" });
}

function downloadBackup() {
  if (!state.key?.backupText) return;
  download(`prefshare-key-backup-${state.key.customerId.slice(2, 10)}.json`, state.key.backupText);
  showStatus($("#key-status"), "ok", "The backup file was downloaded. Keep it safe and private.");
}

function forgetKey() {
  const status = $("#forget-status");
  showStatus(status, "info",
    "Remove your key from this device? Without a backup file you cannot sign for this customer id again.",
    { label: "Yes, remove it", run: async () => {
      await forgetKept();
      state.key = null;
      clearStatus(status);
      dropExportView();
      await renderKey();
      $("#create-key").focus();
    } });
}

// -- 2. registration --------------------------------------------------------------------

function renderRegistered() {
  const status = $("#register-status");
  if (localStorage.getItem(registeredKey()) === "yes") {
    showStatus(status, "ok", "Your key is registered with the consortium.");
  } else {
    clearStatus(status);
  }
}

let pendingRegistration = null; // {customerId, key}: a retry reuses the key

async function register() {
  const status = $("#register-status");
  const button = $("#register");
  if (pendingRegistration?.customerId !== state.key.customerId) {
    pendingRegistration = { customerId: state.key.customerId, key: newIdempotencyKey("reg") };
  }
  button.disabled = true;
  showStatus(status, "wait", "Registering your key…");
  try {
    const publicKey = await exportPublicKey(state.key.publicKey);
    await call("POST", "/v1/customers", {
      body: { public_key: publicKey },
      idempotencyKey: pendingRegistration.key,
      onRetry: (r) => showStatus(status, "wait", `${describe(r.error)} ${describeRetry(r)}`),
    });
    localStorage.setItem(registeredKey(), "yes");
    pendingRegistration = null;
    renderRegistered();
  } catch (err) {
    if (err.code === "CUSTOMER_EXISTS") {
      localStorage.setItem(registeredKey(), "yes");
      renderRegistered();
    } else if (err.retryable) {
      showStatus(status, "error", `${describe(err)} Your key is not registered yet.`,
                 { label: "Try again", run: register });
    } else {
      showStatus(status, "error", describe(err));
    }
  } finally {
    button.disabled = false;
  }
}

// -- 3. grant ---------------------------------------------------------------------------

function choice(name, value, text, hint, checked = false) {
  const id = `${name}-${value === "*" ? "all" : value}`;
  const hintId = hint ? `${id}-hint` : undefined;
  return h("div", { class: "choice" },
    h("input", { type: "checkbox", id, name, value, checked, "aria-describedby": hintId }),
    h("label", { for: id }, text, hint ? h("span", { class: "hint", id: hintId }, hint) : null));
}

function renderChoices() {
  const c = state.consortium;
  $("#recipient-choices").replaceChildren(
    ...c.retailers.map((r) => choice("recipient", r.msp_id, r.display_name)),
    choice("recipient", "*", "Every member, including shops that join later",
           "Chooses all members now and in the future."));
  $("#purpose-choices").replaceChildren(
    ...c.purposes.map((p) => choice("purpose", p.id, p.label, p.description,
                                    p.id === "personalisation")));
  $("#category-choices").replaceChildren(
    ...c.data_categories.map((d) => choice("category", d.id, d.label, d.description)));
  $("#duration").replaceChildren(
    ...c.durations.map((d) => h("option", { value: d.months, selected: d.default }, d.label)));
}

const checked = (name) => [...document.querySelectorAll(`input[name="${name}"]:checked`)]
  .map((input) => input.value);

async function reviewGrant(event) {
  event.preventDefault();
  const status = $("#grant-status");
  let recipients = checked("recipient");
  if (recipients.includes("*")) recipients = ["*"];
  const purposes = checked("purpose");
  const categories = checked("category");
  const missing = [[recipients, "#recipients-fieldset", "at least one shop"],
                   [purposes, "#purposes-fieldset", "at least one purpose"],
                   [categories, "#categories-fieldset", "at least one kind of data"]]
    .filter(([list]) => list.length === 0);
  if (missing.length) {
    showStatus(status, "error", `Choose ${listInWords(missing.map((m) => m[2]))}.`);
    $(`${missing[0][1]} input`).focus();
    return;
  }
  clearStatus(status);
  const expires = new Date();
  expires.setMonth(expires.getMonth() + Number($("#duration").value));
  const unsigned = {
    ...statementBase("grant", newConsentId()),
    recipients, purposes, data_categories: categories,
    expires_at: expires.toISOString(),
  };
  const signed = await confirmSigning(
    "Check your consent before you sign",
    "You give the consent below. It is recorded on every member's ledger with your signature.",
    [...scopeSummary(unsigned), ["Consent id", unsigned.consent_id]], unsigned);
  if (!signed) {
    showStatus(status, "info", "Nothing was signed.");
    return;
  }
  await sendStatement({ idempotency_key: newIdempotencyKey("consent"), signed,
                        state: "sending" }, status);
}

// -- 4. consents: the ledger's view and this device's statements, withdrawal --------------

const BADGES = {
  recorded: ["ok", "Recorded"],
  sending: ["wait", "Sending"],
  waiting: ["wait", "Not sent yet"],
  refused: ["error", "Refused"],
};

const STATUS = { active: ["ok", "In force"], expired: ["", "Expired"],
                 withdrawn: ["", "Withdrawn"] };
const METHODS = { kiosk: "at a store kiosk", app: "in the app", web: "on the web portal" };

/** Consent ids withdrawn by the ledger's last read or by a withdrawal recorded from here since. */
function withdrawnIds() {
  const erasedAt = localStorage.getItem(erasedKey()) ?? "";
  const ids = readJournal()
    .filter((e) => (e.signed.action === "withdraw" && e.state === "recorded")
      || (e.signed.action === "grant" && erasedAt && e.signed.given_at < erasedAt))
    .map((e) => e.signed.consent_id);
  for (const consent of state.ledger?.consents ?? []) {
    if (consent.status === "withdrawn") ids.push(consent.consent_id);
  }
  return new Set(ids);
}

// A withdrawal's outcome is said in its consent's own item, next to the button she pressed.
// The lists are drawn again as the statement goes (sending, recorded), so the place is found
// again each time by consent id, in the list ("ledger-list" or "journal") she used.
function itemStatus(consentId) {
  return h("p", { class: "status", role: "status", "aria-live": "polite", hidden: true,
                  "data-status-for": consentId });
}

function statusIn(list, consentId) {
  return () => [...document.querySelectorAll(`#${list} [data-status-for]`)]
    .find((el) => el.dataset.statusFor === consentId) ?? $("#withdraw-status");
}

function withdrawButton(consentId, jurisdiction, scope, list) {
  return h("button", { type: "button", class: "secondary small",
                       onclick: () => reviewWithdrawal(consentId, jurisdiction, scope,
                                                       statusIn(list, consentId)) },
           "Withdraw");
}

function renderConsents() {
  if (!state.key) return;
  const withdrawn = withdrawnIds();
  renderLedger(withdrawn);
  renderJournal(withdrawn);
}

function renderJournal(withdrawn) {
  const entries = readJournal();
  const items = entries.slice().reverse().map((entry) => {
    const s = entry.signed;
    const [kind, text] = BADGES[entry.state] ?? BADGES.waiting;
    const title = s.action === "withdraw"
      ? `Withdrawal of consent ${s.consent_id}` : `Consent ${s.consent_id}`;
    const actions = [];
    if (entry.state === "waiting" || entry.state === "sending") {
      actions.push(h("button", { type: "button", class: "secondary small",
                                 onclick: () => sendStatement(entry, $("#consents-status")) },
                     "Send again"));
    }
    if (s.action === "grant" && entry.state === "recorded" && !withdrawn.has(s.consent_id)) {
      actions.push(withdrawButton(s.consent_id, s.jurisdiction, s, "journal"));
    }
    return h("li", {},
      h("p", {}, h("strong", {}, title), " ", h("span", { class: `badge ${kind}` }, text),
        withdrawn.has(s.consent_id) && s.action === "grant"
          ? h("span", { class: "badge" }, "Withdrawn") : null),
      s.action === "grant" ? summaryList(scopeSummary(s)) : null,
      h("p", { class: "hint" }, `Signed on ${formatDate(s.given_at)}.`,
        entry.state === "refused" || entry.state === "waiting" ? ` ${entry.error ?? ""}` : ""),
      actions.length ? h("div", { class: "row" }, actions) : null,
      s.action === "grant" ? itemStatus(s.consent_id) : null);
  });
  $("#journal").replaceChildren(...items);
  $("#journal-empty").hidden = items.length > 0;
}

// The ledger's records (chaincode/consent.py ConsentRecord, as ExportCustomer returns them):
// the scope now, `status` at the read, and `versions`, every committed version oldest first,
// each holding the statement that made it (or, for an erasure, the signed erase request).

function scopeInWords(record) {
  return scopeSummary(record).map(([name, value]) => `${name}: ${value}`).join("; ");
}

function versionInWords(version, previous) {
  const record = version.record;
  if (version.is_delete || !record) return "The record was deleted from the ledger.";
  if (record.erasure && !previous?.record?.erasure) {
    return `Withdrawn by your request to erase your data, signed on `
      + `${formatDate(record.erasure.requested_at)}.`;
  }
  const statement = record.statement;
  const how = METHODS[statement.collection_method] ?? statement.collection_method;
  if (statement.action === "grant") return `Given ${how}. ${scopeInWords(record)}.`;
  if (statement.action === "narrow") return `Narrowed ${how}, to: ${scopeInWords(record)}.`;
  return `Withdrawn ${how}.`;
}

function statusInWords(consent, withdrawnSince) {
  const given = `Given on ${formatDate(consent.given_at)}`;
  if (withdrawnSince) {
    return `${given}. Your withdrawal was recorded after this list was read; `
      + "show it again to see it in the history.";
  }
  if (consent.status === "active") {
    return `${given}; in force until ${formatDate(consent.expires_at)}.`;
  }
  if (consent.status === "expired") {
    return `${given}; it ended on ${formatDate(consent.expires_at)}, `
      + "so no member may use your data under it.";
  }
  return `${given}; withdrawn on ${formatDate(consent.withdrawn_at)}. `
    + "No member may use your data under it since then.";
}

function ledgerItem(consent, withdrawn, { actions = true } = {}) {
  const withdrawnSince = consent.status !== "withdrawn" && withdrawn.has(consent.consent_id);
  const [kind, text] = withdrawnSince ? STATUS.withdrawn
    : STATUS[consent.status] ?? ["", consent.status];
  const versions = consent.versions ?? [];
  return h("li", { "data-consent-id": consent.consent_id },
    h("p", {}, h("strong", {}, `Consent ${consent.consent_id}`), " ",
      h("span", { class: `badge ${kind}` }, text)),
    h("p", { class: "hint" }, statusInWords(consent, withdrawnSince)),
    summaryList(scopeSummary(consent)),
    h("p", { class: "history-label" }, "Its history, oldest first:"),
    h("ol", { class: "history" }, versions.map((version, i) => h("li", {},
      h("strong", {}, h("time", { datetime: version.timestamp },
                        formatDate(version.timestamp, { time: true }))),
      ": ", versionInWords(version, versions[i - 1])))),
    actions && consent.status === "active" && !withdrawnSince
      ? h("div", { class: "row" }, withdrawButton(consent.consent_id, consent.jurisdiction,
                                                  consent, "ledger-list"))
      : null,
    actions ? itemStatus(consent.consent_id) : null);
}

/** Forget the last ledger read once it no longer holds (another key, an erasure). */
function dropLedgerRead() {
  state.ledger = null;
  clearStatus($("#ledger-status"));
  $("#ledger-view").hidden = true;
}

const count = (n, one, many) => `${n} ${n === 1 ? one : many}`;

function renderLedger(withdrawn) {
  const ledger = state.ledger;
  $("#ledger-view").hidden = !ledger;
  if (!ledger) return;
  $("#ledger-read-at").textContent = `Read from the ledger on `
    + `${formatDate(ledger.readAt, { time: true })}, newest consent first. `
    + "Changes made later show when you read it again.";
  const newestFirst = ledger.consents.slice()
    .sort((a, b) => String(b.given_at).localeCompare(String(a.given_at)));
  $("#ledger-list").replaceChildren(...newestFirst.map((c) => ledgerItem(c, withdrawn)));
  $("#ledger-empty").hidden = newestFirst.length > 0;
  $("#ledger-more").textContent = `The ledger also holds `
    + `${count(ledger.more.records, "shopping record", "shopping records")} of yours and `
    + `${count(ledger.more.reads, "logged read", "logged reads")} of your data; `
    + "download a copy (step 5) to see them.";
  $("#ledger-reads").replaceChildren(...(ledger.reads ?? []).map(readItem));
}

const READ_DAY = { day: "numeric", month: "long", timeZone: "UTC" };

/** One entry of her access log, in words: "Southgate read 3 of your Northwind shopping
 * records for personal suggestions on 5 December". */
function readItem(entry) {
  const li = document.createElement("li");
  const reader = memberName(state.consortium, entry.reader);
  const owner = memberName(state.consortium, entry.owner);
  const purpose = label("purposes", entry.purpose).toLowerCase();
  const day = new Date(entry.at).toLocaleDateString("en-GB", READ_DAY);
  li.textContent = entry.kind === "export"
    ? `${owner} sent ${count(entry.count, "shopping record", "shopping records")} of yours `
      + `into the copy you asked ${reader} for on ${day}.`
    : `${reader} read ${entry.count} of your ${owner} shopping records for ${purpose} `
      + `on ${day}.`;
  return li;
}

function showLedger(answer, status) {
  const doc = answer.data;
  if (!Array.isArray(doc?.consents) || doc.customer?.customer_id !== state.key.customerId) {
    showStatus(status, "error", "The ledger's answer could not be read. Please try again later.");
    return;
  }
  state.ledger = {
    customerId: state.key.customerId,
    readAt: new Date(),
    consents: doc.consents,
    more: { records: Object.values(doc.holdings ?? {})
              .reduce((n, part) => n + (part.events?.length ?? 0), 0),
            reads: doc.access_log?.length ?? 0 },
    reads: Array.isArray(doc.access_log) ? doc.access_log : [],
  };
  renderConsents();
  showStatus(status, "ok", `${count(doc.consents.length, "consent", "consents")} read from `
    + "the ledger.");
}

function showLedgerConsents() {
  return reviewExport({
    intro: "You ask the ledger for your consents and their history. It answers with "
      + "everything it holds about you; this page shows the consents and keeps nothing. "
      + "The request is valid for one hour.",
    request: "Show my consents and their history",
    status: $("#ledger-status"),
    use: showLedger,
  });
}

/** `scope` (a grant or a ledger record), when known, shows her what she withdraws. */
async function reviewWithdrawal(consentId, jurisdiction, scope = null,
                                where = () => $("#withdraw-status")) {
  const unsigned = statementBase("withdraw", consentId, jurisdiction);
  const signed = await confirmSigning(
    "Check your withdrawal before you sign",
    "From the time it is recorded, no member may use your data under this consent. "
    + "Suggestions already made cannot be recalled.",
    [["Withdraw consent", consentId], ...(scope ? scopeSummary(scope) : []),
     ["Signed at", formatDate(unsigned.given_at)]], unsigned);
  if (!signed) {
    showStatus(where(), "info", "Nothing was signed.");
    return;
  }
  await sendStatement({ idempotency_key: newIdempotencyKey("withdraw"), signed,
                        state: "sending" }, where);
}

/** Why `id` cannot be withdrawn, in words, or null: checked before anything is signed. */
function withdrawalProblem(id) {
  if (!id) return "Enter the consent id first.";
  if (!CONSENT_ID.test(id)) {
    return "That is not a consent id: it starts with k- followed by letters, digits, dots, "
      + "dashes or underscores, as shown with your consents.";
  }
  const known = state.ledger?.consents.find((c) => c.consent_id === id);
  if (state.ledger && !known && !readJournal().some((e) => e.signed.consent_id === id)) {
    return "None of your consents on the ledger has this id. Check it against your consents "
      + "(Show my consents from the ledger).";
  }
  if (known && known.status !== "active") return "This consent is no longer in force.";
  if (withdrawnIds().has(id)) return "This consent was already withdrawn.";
  return null;
}

async function withdrawById(event) {
  event.preventDefault();
  const input = $("#withdraw-id");
  const status = $("#withdraw-status");
  const id = input.value.trim();
  const problem = withdrawalProblem(id);
  if (problem) {
    showStatus(status, "error", problem);
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  input.removeAttribute("aria-invalid");
  const known = state.ledger?.consents.find((c) => c.consent_id === id);
  await reviewWithdrawal(id, known?.jurisdiction, known ?? null, () => status);
}

// -- 5. export and erasure ---------------------------------------------------------------

function rightsRequest(action) {
  // She names this member's gateway: a copy of her request is refused at any other.
  return { action, customer_id: state.key.customerId,
           requested_at: new Date().toISOString(), nonce: randomToken(24),
           gateway: state.retailer.msp_id };
}

/**
 * Sign an export request (shown first) and send it; `use(answer, status)` gets the gateway's
 * answer. The download and the ledger view of her consents both read through here.
 */
async function reviewExport({ intro, request, status, use }) {
  const unsigned = rightsRequest("export");
  const signed = await confirmSigning("Check your request before you sign", intro,
    [["Request", request], ["Customer id", unsigned.customer_id]], unsigned);
  if (!signed) {
    showStatus(status, "info", "Nothing was signed.");
    return;
  }
  await sendExport(signed, status, use);
}

// An export spends no nonce, so "Try again" resends the same signed request within its hour.
async function sendExport(signed, status, use) {
  showStatus(status, "wait", "Asking the ledger for your data…");
  let answer;
  try {
    answer = await call("POST", `/v1/customers/${signed.customer_id}/export`, {
      body: signed,
      onRetry: (r) => showStatus(status, "wait", `${describe(r.error)} ${describeRetry(r)}`),
    });
  } catch (err) {
    showStatus(status, "error", describe(err),
               err.retryable ? { label: "Try again", run: () => sendExport(signed, status, use) }
                 : null);
    return;
  }
  use(answer, status);
}

// The readable copy: kept in this page's memory only, until she leaves or removes her key.
let exported = null; // {customerId, text, doc, readAt}

function dropExportView() {
  exported = null;
  $("#export-view").hidden = true;
}

const EVENT_WORDS = { purchase: "Bought", view: "Looked at", like: "Liked", rating: "Rated",
                      stated: "Told the shop you like" };

function eventInWords(event) {
  const what = EVENT_WORDS[event.event_type] ?? event.event_type;
  const where = event.store_id ? ` at store ${event.store_id}` : "";
  return `${what} item ${event.item_id} (${event.item_category})${where}, `
    + `${formatDate(event.timestamp, { time: true })}.`;
}

const SHOWN_EVENTS = 50;

function holdingItem(owner, part) {
  const name = memberName(state.consortium, owner);
  const events = part?.events ?? [];
  if (events.length === 0) return h("li", {}, `${name} holds no shopping record of yours.`);
  const newest = events.slice().sort((a, b) => String(b.timestamp).localeCompare(String(a.timestamp)));
  return h("li", {},
    h("p", {}, h("strong", {}, name), ` holds ${count(events.length, "shopping record",
      "shopping records")} of yours, newest first:`),
    h("ul", {}, newest.slice(0, SHOWN_EVENTS).map((e) => h("li", {}, eventInWords(e)))),
    events.length > SHOWN_EVENTS
      ? h("p", { class: "hint" }, `and ${events.length - SHOWN_EVENTS} more, in the JSON file.`)
      : null);
}

function renderExportView() {
  const { doc, readAt } = exported;
  $("#export-read-at").textContent = `Read from the ledger and every member on `
    + `${formatDate(readAt, { time: true })}. Nothing of it is kept by this page.`;
  const consents = (doc.consents ?? []).slice()
    .sort((a, b) => String(b.given_at).localeCompare(String(a.given_at)));
  $("#export-consents").replaceChildren(
    ...consents.map((c) => ledgerItem(c, withdrawnIds(), { actions: false })));
  $("#export-consents-empty").hidden = consents.length > 0;
  $("#export-holdings").replaceChildren(
    ...Object.entries(doc.holdings ?? {}).map(([owner, part]) => holdingItem(owner, part)));
  const reads = doc.access_log ?? [];
  $("#export-reads").replaceChildren(...reads.map(readItem));
  $("#export-reads-empty").hidden = reads.length > 0;
  const unanswered = (doc.unanswered ?? []).map((m) => memberName(state.consortium, m));
  $("#export-unanswered").hidden = unanswered.length === 0;
  $("#export-unanswered").textContent = unanswered.length
    ? `${listInWords(unanswered)} could not be reached, so what ${unanswered.length === 1
      ? "it holds" : "they hold"} is missing from this copy. Ask again later.` : "";
  $("#export-view").hidden = false;
}

function showExport() {
  return reviewExport({
    intro: "You ask for a copy of everything the consortium holds about you. It is shown on "
      + "this page only, and you can download or print it. The request is valid for one hour.",
    request: "A copy of my data",
    status: $("#export-status"),
    use: (answer, status) => {
      const doc = answer.data;
      if (!Array.isArray(doc?.consents) || doc.customer?.customer_id !== state.key.customerId) {
        showStatus(status, "error", "The copy could not be read. Please try again later.");
        return;
      }
      exported = { customerId: state.key.customerId, text: answer.text, doc,
                   readAt: new Date() };
      renderExportView();
      showStatus(status, "ok", "Here is a copy of your data.");
      $("#export-view").focus();
    },
  });
}

function downloadExport() {
  if (!exported) return;
  download(`prefshare-export-${new Date().toISOString().slice(0, 10)}.json`, exported.text);
  showStatus($("#export-status"), "ok", "Your data was downloaded as a JSON file.");
}

function eraseConfirmed() {
  return $("#erase-word").value.trim().toUpperCase() === ERASE_WORD;
}

async function sendErasure(signed, idempotencyKey) {
  const status = $("#erase-status");
  showStatus(status, "wait", "Asking every member to erase your data…");
  try {
    const { data } = await call("POST", `/v1/customers/${signed.customer_id}/erasure`, {
      body: signed, idempotencyKey,
      onRetry: (r) => showStatus(status, "wait", `${describe(r.error)} ${describeRetry(r)}`),
    });
    showStatus(status, "ok", `Your data was erased: ${data?.events_purged ?? 0} records deleted `
      + `and ${data?.consents_withdrawn ?? 0} consents withdrawn. No member holds a shopping `
      + "record of yours any more, and none may use or record anything about you. Your key "
      + "and customer id stay; if you give a consent again, it starts afresh, with nothing "
      + "from before.");
    localStorage.setItem(erasedKey(), signed.requested_at);
    dropLedgerRead();
    dropExportView();
    renderConsents();
  } catch (err) {
    showStatus(status, "error", `${describe(err)} Nothing was erased yet.`,
               err.retryable ? { label: "Try again",
                                 run: () => sendErasure(signed, idempotencyKey) } : null);
  }
}

async function reviewErasure() {
  const status = $("#erase-status");
  if (!eraseConfirmed()) {
    showStatus(status, "error", `Type the word ${ERASE_WORD} first.`);
    $("#erase-word").focus();
    return;
  }
  const unsigned = rightsRequest("erase");
  const signed = await confirmSigning(
    "Erase all your data? This cannot be undone.",
    "Every member deletes your shopping records and every consent you gave is withdrawn. "
    + "Your customer id and the signed proof of your past consents remain.",
    [["Request", "Erase my data everywhere"], ["Customer id", unsigned.customer_id]], unsigned);
  if (!signed) {
    showStatus(status, "info", "Nothing was signed; nothing was erased.");
    return;
  }
  $("#erase-word").value = "";
  $("#erase").disabled = true;
  await sendErasure(signed, newIdempotencyKey("erase"));
}

// -- start ------------------------------------------------------------------------------

async function start() {
  $("#create-key").addEventListener("click", createKey);
  $("#restore-file").addEventListener("change", restoreKey);
  $("#download-backup").addEventListener("click", downloadBackup);
  $("#forget-key").addEventListener("click", forgetKey);
  $("#register").addEventListener("click", register);
  $("#grant-form").addEventListener("submit", reviewGrant);
  $("#withdraw-form").addEventListener("submit", withdrawById);
  $("#ledger-load").addEventListener("click", showLedgerConsents);
  $("#export").addEventListener("click", showExport);
  $("#export-download").addEventListener("click", downloadExport);
  $("#export-print").addEventListener("click", () => window.print());
  $("#copy-id").addEventListener("click", copyId);
  $("#make-transfer").addEventListener("click", makeTransfer);
  $("#transfer-in-form").addEventListener("submit", bringWithCode);
  $("#erase-word").addEventListener("input", () => { $("#erase").disabled = !eraseConfirmed(); });
  $("#erase").addEventListener("click", reviewErasure);

  const pageStatus = $("#page-status");
  try {
    state.consortium = await loadConsortium(CONSORTIUM_URL);
    state.retailer = (await call("GET", RETAILER_URL)).data;
  } catch (err) {
    showStatus(pageStatus, "error",
      `The list of member shops could not be loaded. ${describe(err)}`,
      { label: "Reload", run: () => location.reload() });
    return;
  }
  renderRetailer();
  renderChoices();
  state.key = await loadKept();
  await renderKey();
  takeCodeFromAddress();
  document.body.dataset.ready = "true";
}

start();
