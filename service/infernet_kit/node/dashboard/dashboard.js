// The node's live dashboard: draws the snapshot and events of `GET /api/events` (see node/events.py).
// Every value is written with textContent: job inputs and answers are other people's text.
"use strict";

const state = {
  node: "", block: null, subs: new Map(), computes: new Map(), jobs: new Map(), delivered: new Map(), lastSeq: 0,
  latest: null, chosen: null,
};
const $ = (id) => document.getElementById(id);
const short = (hex) => (hex && hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-6)}` : hex || "");
const clock = (at) => new Date(at * 1000).toLocaleTimeString("en-GB");
const text = (value) => (value === undefined || value === null ? "" : typeof value === "string" ? value : JSON.stringify(value));

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "onclick") node.onclick = value; else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : text(child));
  return node;
}

function apply(event) {
  if (event.seq <= state.lastSeq) return;
  state.lastSeq = event.seq;
  const data = event.data;
  if (event.kind === "subscription") {
    state.subs.set(data.id, data);
    for (const item of data.intervals) {
      const key = `${data.id}:${item.interval}`;
      if (item.status === "delivered" && !state.delivered.has(key)) state.delivered.set(key, event.at);
    }
    const last = data.intervals[data.intervals.length - 1];
    if (last) {
      state.latest = { kind: "sub", id: data.id, interval: last.interval };
      if (last.block) state.block = Math.max(state.block || 0, last.block);
    }
  } else if (event.kind === "compute") {
    state.computes.set(`${data.subscription}:${data.interval}`, { ...data, at: event.at });
    state.latest = { kind: "sub", id: data.subscription, interval: data.interval };
  } else if (event.kind === "job") {
    const job = state.jobs.get(data.id) || { started: event.at };
    Object.assign(job, data, data.status === "running" ? {} : { ended: event.at });
    state.jobs.set(data.id, job);
    state.latest = { kind: "job", id: data.id };
  }
}

function onSnapshot(snapshot) {
  Object.assign(state, {
    subs: new Map(), computes: new Map(), jobs: new Map(), delivered: new Map(), lastSeq: 0, latest: null,
  });
  state.node = snapshot.node;
  state.block = snapshot.judged_block;
  $("containers").textContent = snapshot.containers.join(", ") || "–";
  for (const event of snapshot.events) apply(event);
  for (const view of snapshot.subscriptions) state.subs.set(view.id, view);
  render();
}

function intervalOf(sub, interval) {
  return sub.intervals.find((item) => item.interval === interval);
}

function answerOf(subId, interval) {
  const compute = state.computes.get(`${subId}:${interval}`);
  return compute ? compute.output : "";
}

function statusCell(status) {
  return el("td", { class: `status-${status}` }, status);
}

function choose(selection) {
  state.chosen = selection;
  render();
}

function sameChoice(a, b) {
  return a && b && a.kind === b.kind && a.id === b.id && a.interval === b.interval;
}

function renderSubscriptions() {
  const rows = [...state.subs.values()].reverse().slice(0, 100).map((sub) => {
    const last = sub.intervals[sub.intervals.length - 1];
    const perNode = Object.entries(sub.deliveries || {})
      .map(([node, count]) => `${node === state.node ? "this node" : short(node)}: ${count}`);
    const problem = sub.reason || (last && last.error) || "";
    const selection = { kind: "sub", id: sub.id, interval: last ? last.interval : 1 };
    return el("tr", { "data-sub": sub.id, class: sameChoice(selection, shown()) ? "selected" : "", onclick: () => choose(selection) },
      el("td", {}, sub.id), statusCell(sub.status), el("td", { class: "mono", title: sub.owner }, short(sub.owner)),
      el("td", { class: "text", title: sub.container_id }, sub.containers ? sub.containers.join(" → ") : `id ${short(sub.container_id)}`),
      el("td", {}, last ? `${last.interval} of ${sub.frequency}` : `– of ${sub.frequency}`), el("td", {}, sub.period),
      el("td", { class: "text deliveries" }, `${perNode.join(", ") || "none yet"} · redundancy ${sub.redundancy}`),
      el("td", { class: "mono", title: (last && last.tx_hash) || "" }, short(last && last.tx_hash)),
      el("td", {}, last && last.gas_used ? last.gas_used.toLocaleString("en") : ""),
      el("td", { class: "text answer" }, last ? answerOf(sub.id, last.interval) : ""),
      el("td", { class: "text" }, problem));
  });
  $("subscriptions").tBodies[0].replaceChildren(...rows);
}

function renderTransactions() {
  const txs = [];
  for (const sub of state.subs.values()) {
    for (const item of sub.intervals) if (item.tx_hash) txs.push({ sub, item });
  }
  txs.sort((a, b) => (b.item.block || Infinity) - (a.item.block || Infinity));
  const rows = txs.slice(0, 100).map(({ sub, item }) => {
    const compute = state.computes.get(`${sub.id}:${item.interval}`);
    const selection = { kind: "sub", id: sub.id, interval: item.interval };
    return el("tr", { "data-tx": item.tx_hash, onclick: () => choose(selection) },
      el("td", { class: "mono" }, item.tx_hash), el("td", {}, sub.id), el("td", {}, item.interval),
      el("td", {}, item.block || ""), el("td", {}, item.gas_used ? item.gas_used.toLocaleString("en") : ""),
      statusCell(item.status),
      el("td", { class: "mono request", title: sub.request_tx || "" }, sub.request_tx ? `${short(sub.request_tx)} (block ${sub.request_block})` : ""),
      el("td", { class: "text" }, compute ? `input: ${text(compute.input)}` : ""));
  });
  $("transactions").tBodies[0].replaceChildren(...rows);
}

function renderJobs() {
  const jobs = [...state.jobs.values()].sort((a, b) => b.started - a.started).slice(0, 100);
  const rows = jobs.map((job) => {
    const selection = { kind: "job", id: job.id };
    return el("tr", { "data-job": job.id, class: sameChoice(selection, shown()) ? "selected" : "", onclick: () => choose(selection) },
      el("td", { class: "mono" }, short(job.id)), statusCell(job.status), el("td", {}, (job.containers || []).join(" → ")),
      el("td", {}, job.client || ""), el("td", { class: "text" }, text(job.input)), el("td", { class: "text" }, text(job.result)));
  });
  $("jobs").tBodies[0].replaceChildren(...rows);
}

function renderProblems() {
  const items = [];
  for (const sub of state.subs.values()) {
    if (sub.reason) items.push(el("li", { class: "skip" }, `subscription ${sub.id} skipped: ${sub.reason}`));
    for (const item of sub.intervals) {
      if (item.error) {
        items.push(el("li", { class: item.status === "skipped" ? "skip" : "" },
          `subscription ${sub.id} interval ${item.interval} ${item.status}: ${item.error}`));
      }
    }
  }
  for (const job of state.jobs.values()) {
    if (job.status === "failed") items.push(el("li", {}, `job ${job.id} failed: ${text(job.result)}`));
  }
  $("problems").replaceChildren(...(items.length ? items.slice(-50) : [el("li", { class: "skip" }, "none")]));
}

function step(name, status, ...lines) {
  return el("li", { class: status, "data-step": name }, el("b", {}, name), ...lines.filter((line) => line !== "").map((line) => el("span", {}, line)));
}

function backendLines(calls) {
  // What the services' Server-Timing headers said of their backend calls (retries included).
  if (!calls) return ["called by the service"];
  const lines = calls.flatMap((call) => call.backend.map((b) => `${b.what}: ${b.ms.toFixed(1)} ms (for ${call.container})`));
  return lines.length ? lines : ["not reported by the service (no Server-Timing header)"];
}

function subscriptionPath(sub, interval) {
  const item = intervalOf(sub, interval) || { status: "running" };
  const compute = state.computes.get(`${sub.id}:${interval}`);
  const deliveredAt = state.delivered.get(`${sub.id}:${interval}`);
  const took = compute && deliveredAt ? `${(deliveredAt - compute.at).toFixed(1)} s after the answer` : "";
  const ran = compute ? "done" : item.status === "failed" ? "failed" : "pending";
  const end = item.status === "delivered" ? "done" : ["failed", "skipped"].includes(item.status) ? "failed" : "pending";
  $("path-title").textContent = `subscription ${sub.id}, interval ${interval}`;
  return [
    step("contract", "done", `subscription ${sub.id} by ${short(sub.owner)}`,
      sub.request_tx ? `requested in tx ${short(sub.request_tx)}, block ${sub.request_block}` : "",
      `interval ${interval} of ${sub.frequency}, redundancy ${sub.redundancy}`),
    step("node", ran, `node ${short(state.node)}`, compute ? `judged at block ${short(compute.block_hash)}` : "",
      compute ? `input: ${text(compute.input)}` : ""),
    step("service", ran, (sub.containers || []).join(" → "), compute ? `${compute.ms} ms, answered ${clock(compute.at)}` : ""),
    step("backend", ran, ...backendLines(compute && compute.calls)),
    step("callback", end, item.tx_hash ? `tx ${short(item.tx_hash)}` : item.status, item.block ? `block ${item.block}` : "", took,
      item.gas_used ? `gas ${item.gas_used.toLocaleString("en")}` : "", compute ? `answer: ${text(compute.output)}` : "", item.error || ""),
  ];
}

function jobPath(job) {
  const end = job.status === "success" ? "done" : job.status === "failed" ? "failed" : "pending";
  const ms = job.ended ? `${Math.round((job.ended - job.started) * 1000)} ms` : "running";
  $("path-title").textContent = `off-chain job ${job.id}`;
  return [
    step("client", "done", `${job.client || ""} at ${clock(job.started)}`, `input: ${text(job.input)}`),
    step("node", "done", `job ${short(job.id)}`),
    step("service", end, (job.containers || []).join(" → "), ms),
    step("backend", end, ...backendLines(job.calls)),
    step("result", end, job.status, text(job.result)),
  ];
}

function shown() {
  return state.chosen || state.latest;
}

function renderPath() {
  const selection = shown();
  let steps = [];
  if (selection && selection.kind === "sub" && state.subs.has(selection.id)) {
    steps = subscriptionPath(state.subs.get(selection.id), selection.interval);
  } else if (selection && selection.kind === "job" && state.jobs.has(selection.id)) {
    steps = jobPath(state.jobs.get(selection.id));
  }
  $("path").replaceChildren(...steps);
}

let scheduled = false;
function render() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    $("node").textContent = state.node || "(chain disabled)";
    $("block").textContent = state.block === null ? "–" : state.block;
    renderPath();
    renderSubscriptions();
    renderTransactions();
    renderJobs();
    renderProblems();
  });
}

function live(on, message) {
  $("live").className = `live ${on ? "on" : "off"}`;
  $("live").textContent = message;
}

function connect() {
  const source = new EventSource("/api/events");
  source.addEventListener("snapshot", (message) => {
    live(true, "live");
    onSnapshot(JSON.parse(message.data));
  });
  for (const kind of ["subscription", "compute", "job"]) {
    source.addEventListener(kind, (message) => {
      apply(JSON.parse(message.data));
      render();
    });
  }
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      // Refused (not local, too many readers) or the node is gone: try again shortly.
      live(false, "feed unavailable, retrying…");
      setTimeout(connect, 3000);
    } else {
      live(false, "reconnecting…");
    }
  };
}

connect();
