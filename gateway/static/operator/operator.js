// The operator page: the retailer's admin sees the serving model (its card by segment, bias
// and coverage, the life cycle), what other members read of its customers' data (the watch's
// scores, plotted since the page opened, brakes, alerts, every member's records on the
// ledger) and its ledger writes against the consortium's budget.
//
// The admin credential stays in this tab's sessionStorage (gone when the tab closes). Plots are
// small SVG lines drawn here, each with a sentence for screen readers; figures are tables and
// <meter>s. A charting library would be the larger dependency for these few lines.

import { call, describe, loadConsortium } from "../static/js/api.js";
import { $, clearStatus, formatDate, h, memberName, showStatus } from "../static/js/ui.js";

const CREDENTIAL_KEY = "prefshare.operator.credential";
const CONSORTIUM_URL = "../static/consortium.json";
const SVG = "http://www.w3.org/2000/svg";
const options = { pollMs: 10000, points: 360, ...(globalThis.prefshareConfig?.operator ?? {}) };

const state = { consortium: null, credential: null, series: new Map(), timer: null };

function admin(method, path) {
  return call(method, `../v1/admin/${path}`, { credential: state.credential, attempts: 1 });
}

function member(id) {
  return state.consortium ? memberName(state.consortium, id) : id;
}

function number(value, digits = 2) {
  return value === undefined || value === null ? "–" : Number(value).toFixed(digits);
}

/** The features that drove a score ({name: deviation} or a list of names), in words. */
function drivers(found) {
  const names = Array.isArray(found) ? found : Object.keys(found ?? {});
  return names.length ? ` (driven by ${names.map((n) => n.replaceAll("_", " ")).join(", ")})`
    : "";
}

function rows(table, cells) {
  $("tbody", table).replaceChildren(...cells.map((row) => h("tr", {},
    h("th", { scope: "row" }, row[0]), ...row.slice(1).map((c) => h("td", {}, c)))));
}

/** A line of `values` (with a dashed `limit`) in a small SVG, described in one sentence. */
function sparkline(values, limit, label) {
  const width = 240;
  const height = 40;
  const top = Math.max(limit ?? 0, ...values, 1e-9);
  const x = (i) => (values.length < 2 ? width : (i * width) / (values.length - 1));
  const y = (v) => height - (v / top) * (height - 4) - 2;
  const svg = document.createElementNS(SVG, "svg");
  for (const [name, value] of Object.entries({ viewBox: `0 0 ${width} ${height}`, width,
    height, role: "img", class: "sparkline", "aria-label": label })) {
    svg.setAttribute(name, String(value));
  }
  if (limit !== undefined && limit !== null) {
    const line = document.createElementNS(SVG, "line");
    for (const [n, v] of Object.entries({ x1: 0, x2: width, y1: y(limit), y2: y(limit),
      class: "limit" })) line.setAttribute(n, String(v));
    svg.append(line);
  }
  const path = document.createElementNS(SVG, "polyline");
  path.setAttribute("points", values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`)
    .join(" "));
  path.setAttribute("class", "series");
  svg.append(path);
  return svg;
}

// -- sections ------------------------------------------------------------------------------

async function loadModel() {
  const status = $("#model-status");
  try {
    const [model, card, life] = await Promise.all([
      admin("GET", "model"), admin("GET", "model/card"), admin("GET", "model/lifecycle")]);
    const figures = Object.fromEntries(Object.entries(card.data.card)
      .filter(([k]) => k.startsWith("card.")).map(([k, v]) => [k.slice(5), v]));
    $("#model-line").textContent = model.data.model_id
      ? `Serving ${model.data.model_id}: hit@10 ${number(figures["hit@10"])} on `
        + `${number(figures["slice.customers"], 0)} recent customers held out.`
      : "No model is installed: the kiosks suggest popular items.";
    const segments = Object.keys(figures).filter((k) => /^segment\.[a-z]+\.[a-z]+\.hit@10$/.test(k))
      .map((k) => k.slice("segment.".length, -".hit@10".length));
    rows($("#segments"), segments.map((s) => [s.replace(".", ", "),
      number(figures[`segment.${s}.customers`], 0),
      h("span", {}, h("meter", { min: 0, max: 1, value: figures[`segment.${s}.hit@10`],
                                 "aria-label": `hit@10 ${s}` }),
        ` ${number(figures[`segment.${s}.hit@10`])}`)]));
    const bias = [["popular 10% of items: share of suggestions", "popular_top10pct.share"],
      ["most suggested category: share", "exposure.category.top_share"],
      ["category exposure Gini", "exposure.category.gini"],
      ["most suggested brand: share", "exposure.brand.top_share"],
      ["brand exposure Gini", "exposure.brand.gini"],
      ["catalogue coverage", "coverage"]];
    rows($("#bias"), bias.filter(([, k]) => k in figures).map(([label, k]) => [label,
      number(figures[k])]));
    rows($("#records"), Object.keys(figures).filter((k) => k.startsWith("records."))
      .map((k) => [member(k.slice("records.".length)), number(figures[k], 0)]));
    const last = life.data.last;
    $("#lifecycle-line").textContent = [
      `Now: ${life.data.step}.`,
      `${life.data.new_records} new records since the last retrain.`,
      last ? `Last retrain (${last.reason}): ${last.model_id} ${last.installed ? "installed"
        : `refused (${last.refusals.map((r) => `${r.figure} ${number(r.value)} `
          + `${r.rule} ${number(r.limit)}`).join("; ")})`} after ${number(last.seconds, 1)} s.`
        : "No retrain since the gateway started.",
      life.data.previous_model_id ? `A rollback would serve ${life.data.previous_model_id}.`
        : ""].join(" ");
    $("#rollback").disabled = !life.data.previous_model_id;
  } catch (err) {
    if (err.code === "SUGGESTIONS_NOT_CONFIGURED") {
      $("#model-line").textContent = "This gateway has no catalogue, so it serves no model.";
      return;
    }
    showStatus(status, "error", describe(err));
  }
}

function plotReader(reader, score) {
  const series = state.series.get(reader) ?? [];
  series.push(score.score);
  if (series.length > options.points) series.shift();
  state.series.set(reader, series);
  return series;
}

async function loadWatch() {
  const status = $("#watch-status");
  try {
    const [watch, onLedger] = await Promise.all([admin("GET", "watch"),
      admin("GET", "watch/records")]);
    const w = watch.data;
    $("#watch-line").textContent = `Windows of ${w.window_s} s, scored every ${w.step_s} s.`
      + (w.learning.length ? ` Still learning: ${w.learning.map(member).join(", ")}.` : "");
    const readers = Object.keys({ ...w.history_windows, ...w.scores, ...w.braked }).sort();
    $("#readers").replaceChildren(...(readers.length ? readers.map((reader) => {
      const score = w.scores[reader];
      const braked = w.braked[reader];
      const items = [h("strong", {}, member(reader)), " "];
      if (score) {
        const series = plotReader(reader, score);
        items.push(`score ${number(score.score)}, threshold ${number(score.threshold)}`,
          drivers(score.drivers), " ",
          sparkline(series, score.threshold, `${member(reader)}: score ${number(score.score)} `
            + `now, threshold ${number(score.threshold)}, highest ${number(Math.max(...series))} `
            + `over the last ${series.length} readings`));
      }
      if (!score && w.learning.includes(reader)) {
        items.push(`learning its usual reads: ${w.history_windows[reader] ?? 0} windows so `
          + "far; scored once it has enough history");
      }
      if (braked) {
        items.push(h("span", { class: "badge" }, ` braked since ${formatDate(braked.since,
          { time: true })}`), " ", h("button", { type: "button", class: "small",
          "data-clear": reader, onclick: () => clearBrake(reader) }, `Clear ${member(reader)}`));
      }
      return h("li", { "data-reader": reader }, ...items);
    }) : [h("li", {}, "No member has read your customers' data yet.")]));
    $("#alerts").replaceChildren(...(w.recent_alerts.length ? w.recent_alerts.map((a) => h("li",
      {}, `${formatDate(a.at, { time: true })}: ${member(a.reader)} scored `
        + `${number(a.score)}${drivers(a.drivers)}, braked`))
      : [h("li", {}, "None.")]));
    const records = onLedger.data.records;
    $("#records-on-ledger").replaceChildren(...(records.length ? records.map((r) => h("li", {},
      `${formatDate(r.at, { time: true })}: ${member(r.owner)} `
        + `${r.kind === "clearance" ? "cleared" : "flagged"} ${member(r.reader)}`))
      : [h("li", {}, "None.")]));
    const writes = w.ledger_writes;
    if (writes) {
      $("#writes-line").textContent = `${writes.last_hour} writes in the last hour of a budget`
        + ` of ${writes.budget_per_hour}; ${writes.refused} refused since the gateway started.`;
      const meter = $("#writes-meter");
      meter.max = writes.budget_per_hour;
      meter.value = writes.last_hour;
      meter.hidden = false;
    } else {
      $("#writes-line").textContent = "No write budget is set for this member.";
      $("#writes-meter").hidden = true;
    }
  } catch (err) {
    if (err.code === "WATCH_DISABLED") {
      $("#watch-line").textContent = "The watch is disabled on this gateway.";
      return;
    }
    showStatus(status, "error", describe(err));
  }
}

async function loadNodes() {
  try {
    const answer = await admin("GET", "watch/nodes");
    const nodes = answer.data.nodes;
    const names = Object.keys(nodes).sort();
    const flagged = names.filter((n) => nodes[n].flagged);
    $("#nodes-line").textContent = `${names.length} nodes read every ${answer.data.interval_s} s;`
      + (flagged.length ? ` flagged: ${flagged.join(", ")}.` : " none flagged.");
    rows($("#nodes"), names.map((name) => {
      const node = nodes[name];
      const f = node.features ?? {};
      return [`${name} (${node.kind})`,
        node.flagged ? h("span", { class: "badge error" }, `flagged${drivers(node.drivers)}`)
          : h("span", { class: "badge ok" }, "healthy"),
        f.height_lag === null || f.height_lag === undefined ? "–" : `${f.height_lag} blocks`,
        f.scrape_failed ? "failed" : `${number(f.scrape_s, 3)} s`];
    }));
    const alerts = answer.data.recent_alerts;
    $("#node-alerts").replaceChildren(...(alerts.length ? alerts.map((a) => h("li", {},
      `${formatDate(a.at, { time: true })}: ${a.node} (${a.kind})${drivers(a.drivers)}`))
      : [h("li", {}, "None.")]));
  } catch (err) {
    $("#nodes-line").textContent = err.code === "NODE_WATCH_DISABLED"
      ? "This gateway has no node endpoints in its settings." : describe(err);
  }
}

async function clearBrake(reader) {
  const status = $("#watch-status");
  showStatus(status, "wait", `Clearing ${member(reader)} on the ledger…`);
  try {
    await admin("POST", `watch/readers/${encodeURIComponent(reader)}/clear`);
    showStatus(status, "ok", `${member(reader)} may read again; the clearance is on the ledger.`);
  } catch (err) {
    showStatus(status, "error", describe(err));
  }
  await loadWatch();
}

async function modelAction(path, waiting, done) {
  const status = $("#model-status");
  showStatus(status, "wait", waiting);
  for (const button of [$("#retrain"), $("#rollback")]) button.disabled = true;
  try {
    const answer = await admin("POST", path);
    showStatus(status, "ok", done(answer.data));
  } catch (err) {
    showStatus(status, "error", describe(err));
  } finally {
    $("#retrain").disabled = false;
    await loadModel();
  }
}

// -- signing in ----------------------------------------------------------------------------

async function refresh() {
  await Promise.all([loadModel(), loadWatch(), loadNodes()]);
  $("#updated").textContent = `Updated ${formatDate(new Date(), { time: true })}.`;
}

function showOperator() {
  $("#signin-view").hidden = true;
  $("#operator-view").hidden = false;
  clearInterval(state.timer);
  state.timer = setInterval(() => Promise.all([loadWatch(), loadNodes()]), options.pollMs);
  return refresh();
}

async function signIn(event) {
  event.preventDefault();
  const status = $("#signin-status");
  const credential = $("#admin-credential").value.trim();
  if (!/^psk_[0-9a-f]{16}\.[A-Za-z0-9_-]+$/.test(credential)) {
    showStatus(status, "error", "An admin credential starts with psk_, as it was issued.");
    return;
  }
  showStatus(status, "wait", "Checking the credential with the gateway…");
  try {
    // A local read (no ledger call): the credential's role is all it checks.
    await call("GET", "../v1/admin/watch", { credential, attempts: 1 });
  } catch (err) {
    if (err.code === "WATCH_DISABLED") {
      // Accepted: the watch is off on this gateway, the rest of the page still works.
    } else if (err.status === 403) {
      showStatus(status, "error", "This credential is a store's: the operator page needs one "
        + "of the retailer's admin credentials.");
    } else if (err.status === 401) {
      showStatus(status, "error", "The gateway did not accept this credential (unknown, "
        + "revoked or expired).");
    } else {
      showStatus(status, "error", describe(err));
    }
    if (err.code !== "WATCH_DISABLED") return;
  }
  clearStatus(status);
  state.credential = credential;
  sessionStorage.setItem(CREDENTIAL_KEY, credential);
  $("#admin-credential").value = "";
  await showOperator();
}

function signOut() {
  clearInterval(state.timer);
  sessionStorage.removeItem(CREDENTIAL_KEY);
  state.credential = null;
  state.series.clear();
  $("#operator-view").hidden = true;
  $("#signin-view").hidden = false;
  $("#admin-credential").focus();
}

async function start() {
  try {
    state.consortium = await loadConsortium(CONSORTIUM_URL);
  } catch {
    state.consortium = null; // names fall back to MSP ids
  }
  try {
    const retailer = await call("GET", "../v1/retailer", { attempts: 2 });
    const name = member(retailer.data.msp_id);
    $("#retailer-name").textContent = `${name} · `;
    document.title = `Operator · ${name} · prefshare`;
  } catch (err) {
    showStatus($("#page-status"), "error", describe(err));
  }
  $("#signin-form").addEventListener("submit", signIn);
  $("#signout").addEventListener("click", signOut);
  $("#refresh").addEventListener("click", () => refresh());
  $("#retrain").addEventListener("click", () => modelAction("model/retrain",
    "Retraining from the ledger (seconds to a minute)…",
    (r) => (r.installed ? `${r.model_id} installed (trained on ${r.records} records).`
      : `${r.model_id} was refused: ${r.refusals.map((x) => x.figure).join(", ")}; the `
        + "serving model stays.")));
  $("#rollback").addEventListener("click", () => modelAction("model/rollback",
    "Serving the previous model…", (r) => `Now serving ${r.model_id}.`));
  state.credential = sessionStorage.getItem(CREDENTIAL_KEY);
  if (state.credential) {
    await showOperator();
  } else {
    $("#signin-view").hidden = false;
  }
  document.body.dataset.ready = "true";
}

start();
