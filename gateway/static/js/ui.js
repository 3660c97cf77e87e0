// Small DOM helpers shared by the portal and the kiosk. Text is always set as text, never as
// HTML: ids, item names and gateway messages cannot inject markup.

/** h("p", {class: "x", onclick: fn}, "text", child...) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      el.className = value;
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/**
 * Show a message in a status element (role="status", aria-live): kind is "info", "wait",
 * "ok" or "error". `action` = {label, run} adds a button (e.g. "Try again").
 */
export function showStatus(el, kind, text, action = null) {
  el.replaceChildren();
  el.dataset.kind = kind;
  el.hidden = false;
  const prefix = { error: "Problem: ", ok: "Done: ", wait: "Please wait: " }[kind];
  if (prefix) el.append(h("span", { class: "visually-hidden" }, prefix));
  el.append(h("span", { class: "status-text" }, text));
  if (action) {
    el.append(" ", h("button", { type: "button", class: "button secondary small",
                                 onclick: action.run }, action.label));
  }
}

export function clearStatus(el) {
  el.replaceChildren();
  el.hidden = true;
  delete el.dataset.kind;
}

/**
 * A date (ISO text or Date) in the reader's language, e.g. "21 November 2027"; with
 * `{time: true}` also the hour and minute, for events that can share a day.
 */
export function formatDate(iso, { time = false } = {}) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const options = { year: "numeric", month: "long", day: "numeric" };
  if (time) Object.assign(options, { hour: "numeric", minute: "2-digit" });
  return date.toLocaleString(document.documentElement.lang || undefined, options);
}

/** "a, b and c" */
export function listInWords(items) {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

/** The display name of a member from its MSP id or retailer name, via consortium.json. */
export function memberName(consortium, id) {
  if (id === "*") return "every member of the consortium";
  const found = (consortium?.retailers ?? []).find((r) => r.msp_id === id || r.name === id);
  return found ? found.display_name : id;
}

/** Offer `text` as a file download named `filename`. */
export function download(filename, text, type = "application/json") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
