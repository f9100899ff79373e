// The supervisor's team view: every agent, filterable by status and sortable by column,
// a page of agents at a time (sorted by id across pages, by any column within one).
"use strict";
(function () {
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  const pageSize = Math.max(1, Number(params.get("page_size")) || 500);
  let agents = [];
  let fetchedAt = 0;
  let starts = [""]; // the `after` of each page visited, from the first one
  let next = null;
  let sortKey = "agent_id";
  let descending = false;

  const $ = (id) => document.getElementById(id);
  const clock = (seconds) => {
    const total = Math.max(0, Math.floor(seconds));
    const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    return h + ":" + String(m).padStart(2, "0") + ":" + String(s).padStart(2, "0");
  };
  const row = (panel, elapsed) => {
    const current = panel.status.current;
    const time = Object.assign({}, panel.time);
    const inSession = panel.session.first_online !== null;
    if (inSession && current) time[current] += elapsed;
    return {
      agent_id: panel.agent_id,
      name: panel.name || "",
      status: current || "",
      seconds: current ? panel.status.seconds + elapsed : 0,
      session: inSession ? panel.session.seconds + elapsed : 0,
      time: time,
      active: panel.chats.active,
      on_hold: panel.chats.on_hold,
      closed: panel.chats.closed,
      missed: panel.chats.missed,
    };
  };

  // Status by colour and icon as well as by word.
  function statusCell(td, status) {
    const icon = document.createElement("span");
    icon.className = "icon " + (status || "none");
    icon.setAttribute("aria-hidden", "true");
    td.append(icon, status || "not online yet");
    td.className = "status " + (status || "none");
  }

  // Online, paused and offline time of the session as one small bar.
  function sessionCell(td, r) {
    const bar = document.createElement("span");
    bar.className = "session-bar";
    bar.title = ["online", "paused", "offline"].map((part) => part + " " + clock(r.time[part])).join(", ");
    for (const part of ["online", "paused", "offline"]) {
      const piece = document.createElement("i");
      piece.className = part;
      piece.style.width = (r.session > 0 ? (100 * r.time[part]) / r.session : 0).toFixed(2) + "%";
      bar.appendChild(piece);
    }
    const total = document.createElement("span");
    total.className = "clock";
    total.textContent = r.session > 0 ? clock(r.session) : "—";
    td.append(bar, total);
  }

  function showFloor(rows) {
    const sum = (key) => rows.reduce((total, r) => total + r[key], 0);
    for (const status of ["online", "paused", "offline"]) {
      $("floor-" + status).textContent = rows.filter((r) => r.status === status).length;
    }
    $("floor-active").textContent = sum("active");
    $("floor-on-hold").textContent = sum("on_hold");
    $("floor-closed").textContent = sum("closed");
    const paged = starts.length > 1 || next !== null;
    const waiting = rows.filter((r) => !r.status).length;
    $("floor-scope").textContent =
      (paged ? "These figures count the agents of this page." : "") +
      (waiting ? (paged ? " " : "") + waiting + " not online yet." : "");
  }

  function render() {
    const elapsed = (Date.now() - fetchedAt) / 1000;
    const rows = agents.map((panel) => row(panel, elapsed));
    rows.sort((a, b) => {
      const order = a[sortKey] < b[sortKey] ? -1 : a[sortKey] > b[sortKey] ? 1 : 0;
      return descending ? -order : order;
    });
    $("rows").replaceChildren(
      ...rows.map((r) => {
        const tr = document.createElement("tr");
        tr.dataset.agent = r.agent_id;
        for (const [key, text] of [
          ["agent_id", r.agent_id], ["name", r.name], ["status", null],
          ["seconds", r.status ? clock(r.seconds) : "—"], ["session", null], ["active", r.active],
          ["on_hold", r.on_hold], ["closed", r.closed], ["missed", r.missed],
        ]) {
          const td = document.createElement("td");
          td.dataset.key = key;
          if (key === "status") statusCell(td, r.status);
          else if (key === "session") sessionCell(td, r);
          else {
            td.textContent = text;
            if (typeof r[key] === "number") td.className = "num";
          }
          tr.appendChild(td);
        }
        return tr;
      })
    );
    showFloor(rows);
    const paged = starts.length > 1 || next !== null;
    const counted = rows.length === 1 ? "1 agent" : rows.length + " agents";
    $("count").textContent = counted + (paged ? ", page " + starts.length : "");
    $("prev").hidden = $("next").hidden = !paged;
    $("prev").disabled = starts.length === 1;
    $("next").disabled = next === null;
  }

  async function refresh() {
    const query = new URLSearchParams({ limit: pageSize, after: starts[starts.length - 1] });
    if ($("filter").value) query.set("status", $("filter").value);
    try {
      const answer = await fetch("/agents?" + query, {
        headers: token ? { Authorization: "Bearer " + token } : {},
      });
      const body = await answer.json();
      if (!answer.ok) {
        $("error").textContent = body.error;
        $("error").hidden = false;
        return;
      }
      $("error").hidden = true;
      agents = body.agents;
      next = body.next;
      fetchedAt = Date.now();
      render();
    } catch (error) {
      $("error").textContent = "Cannot reach streamstats: " + error.message;
      $("error").hidden = false;
    }
  }

  for (const th of document.querySelectorAll("th[data-key]")) {
    th.addEventListener("click", () => {
      descending = sortKey === th.dataset.key ? !descending : false;
      sortKey = th.dataset.key;
      render();
    });
  }
  $("filter").addEventListener("change", () => {
    starts = [""];
    refresh();
  });
  $("next").addEventListener("click", () => {
    if (next !== null) starts.push(next);
    refresh();
  });
  $("prev").addEventListener("click", () => {
    if (starts.length > 1) starts.pop();
    refresh();
  });
  refresh();
  setInterval(refresh, 2000);
  setInterval(render, 1000);
})();
