// The glimpse-cluster dashboard page: renders each snapshot the server pushes (server-sent events, about once a second).
"use strict";

const $ = (selector) => document.querySelector(selector);

function element(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null) continue;
    if (name === "className") node.className = value;
    else node.setAttribute(name, String(value));
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function ago(ms) {
  const seconds = Math.max(0, Math.round(ms / 1000));
  return seconds < 60 ? `${seconds} s ago` : `${Math.round(seconds / 60)} min ago`;
}

function rate(value) {
  return value >= 100 ? Math.round(value).toLocaleString("en") : value.toFixed(1);
}

function renderServers(servers) {
  const body = $("#servers tbody");
  body.replaceChildren();
  for (const server of servers) {
    if (!server.reachable) {
      body.append(
        element(
          "tr",
          { "data-server": server.server },
          element("td", {}, server.server),
          element("td", { className: "unreachable", colspan: 4 }, `unreachable: ${server.error || "no answer"}`),
        ),
      );
      continue;
    }
    if (server.functions.length === 0)
      body.append(
        element(
          "tr",
          { "data-server": server.server },
          element("td", {}, server.server),
          element("td", { colspan: 4, className: "empty" }, "no functions"),
        ),
      );
    for (const f of server.functions) {
      body.append(
        element(
          "tr",
          { "data-server": server.server, "data-function": f.name },
          element("td", {}, server.server),
          element("td", {}, f.name),
          element("td", {}, f.queued),
          element("td", {}, f.running),
          element("td", {}, f.workers),
        ),
      );
    }
  }
}

async function control(node, action) {
  if (!window.confirm(`${action} worker node ${node.host} pid ${node.pid}?`)) return;
  const response = await fetch(`api/nodes/${encodeURIComponent(node.id)}/${action}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  if (!response.ok) {
    const answer = await response.json().catch(() => ({}));
    window.alert(answer.error || `${action} failed (${response.status})`);
  }
}

function renderNodes(snapshot) {
  const body = $("#nodes tbody");
  body.replaceChildren();
  $("#node-count").textContent = `(${snapshot.nodes.length})`;
  document.querySelectorAll(".control-column").forEach((cell) => (cell.hidden = !snapshot.allowControl));
  for (const node of snapshot.nodes) {
    const buttons = element("td", { className: "control-column" });
    buttons.hidden = !snapshot.allowControl;
    if (snapshot.allowControl) {
      // drain for a node taking chunks, online for one drained or draining (nodes without a state take chunks).
      const service = node.state && node.state !== "serving" ? "online" : "drain";
      for (const action of ["restart", "quit", service]) {
        const button = element("button", { type: "button", "data-action": action }, action);
        button.addEventListener("click", () => void control(node, action));
        buttons.append(button);
      }
    }
    body.append(
      element(
        "tr",
        { "data-node": node.id, "data-pid": node.pid },
        element("td", {}, node.host),
        element("td", { className: "pid" }, node.pid),
        element("td", {}, node.labels ? node.labels.join(", ") : ""),
        element("td", {}, node.state || ""),
        element("td", {}, node.threads),
        element("td", { className: "busy" }, node.busy),
        element("td", { className: "prefetched" }, node.prefetched ?? 0),
        element("td", {}, node.chunks),
        element("td", {}, node.items),
        element("td", {}, rate(node.itemsPerSecond)),
        element("td", {}, ago(snapshot.time - node.lastSeen)),
        buttons,
      ),
    );
  }
}

function renderWarnings(warnings) {
  const box = $("#warnings");
  box.hidden = warnings.length === 0;
  box
    .querySelector("ul")
    .replaceChildren(
      ...warnings.map((warning) =>
        element("li", { "data-kind": warning.kind, "data-target": warning.target }, warning.message),
      ),
    );
}

function renderMaps(maps) {
  const box = $("#maps");
  box.replaceChildren();
  if (maps.length === 0) box.append(element("p", { className: "empty" }, "no maps"));
  for (const map of maps) {
    const total = map.total === undefined || map.total === null ? "?" : map.total;
    const bar = element("progress", { max: map.total || 1, value: map.total ? map.done : 0 });
    const failed = map.failed ? `, ${map.failed} failed` : "";
    const retried = map.retries ? `, ${map.retries} retried` : "";
    const figures = `${map.done} / ${total}${failed}${retried} · ${map.state}`;
    box.append(
      element(
        "div",
        {
          className: "map",
          "data-map-id": map.mapId,
          "data-state": map.state,
          "data-done": map.done,
          "data-total": total,
        },
        element("span", { title: `pool ${map.host} pid ${map.pid}` }, `${map.function} (${map.host}:${map.pid})`),
        bar,
        element("span", { className: "figures" }, figures),
        ...(map.state === "failed" && map.error ? [element("p", { className: "map-error" }, map.error)] : []),
      ),
    );
  }
}

function renderChart(points) {
  const peak = Math.max(0, ...points.map((p) => p.itemsPerSecond));
  // The line's scale: its peak at the top, or (nothing run) a flat line at the bottom.
  const max = peak > 0 ? peak : 1;
  const now = points.length ? points[points.length - 1].time : Date.now();
  const coordinates = points.map(
    (p) => `${(600 - (now - p.time) / 1000).toFixed(1)},${(118 - (p.itemsPerSecond / max) * 112).toFixed(1)}`,
  );
  $("#chart-line").setAttribute("points", coordinates.join(" "));
  $("#chart-max").textContent = peak > 0 ? `peak ${rate(peak)} items/s` : "no items in the last 10 minutes";
  $("#throughput-now").textContent = points.length ? `· now ${rate(points[points.length - 1].itemsPerSecond)}` : "";
}

function renderLogs(lines) {
  const list = $("#logs");
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
  list.replaceChildren(
    ...lines.map((line) =>
      element(
        "li",
        { className: line.level },
        `${new Date(line.time).toISOString().slice(11, 19)} ${line.host}:${line.pid} ${line.level.toUpperCase()} ${line.message}`,
      ),
    ),
  );
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function render(snapshot) {
  $("#trust").hidden = !snapshot.signed;
  $("#mode").textContent = snapshot.allowControl ? "control allowed" : "read-only";
  $("#updated").textContent = `updated ${new Date(snapshot.time).toLocaleTimeString()}`;
  document.body.dataset.updated = String(snapshot.time);
  renderWarnings(snapshot.warnings || []);
  renderChart(snapshot.throughput);
  renderMaps(snapshot.maps);
  renderNodes(snapshot);
  renderServers(snapshot.jobServers);
  renderLogs(snapshot.logs);
}

const events = new EventSource("events");
events.addEventListener("snapshot", (event) => {
  $("#connection").textContent = "live";
  $("#connection").className = "badge live";
  render(JSON.parse(event.data));
});
events.addEventListener("error", () => {
  $("#connection").textContent = "reconnecting…";
  $("#connection").className = "badge down";
});
