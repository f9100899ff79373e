// The agent panel: polls the projection every second and ticks durations in between.
"use strict";
(function () {
  const root = document.querySelector("main.panel");
  const agentId = root.dataset.agent;
  const token = new URLSearchParams(location.search).get("token");
  const CIRCUMFERENCE = 2 * Math.PI * 50;
  let snapshot = null;
  let fetchedAt = 0;

  const $ = (id) => document.getElementById(id);
  const headers = () => (token ? { Authorization: "Bearer " + token } : {});

  function clock(seconds) {
    const total = Math.max(0, Math.floor(seconds));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    return h + ":" + String(m).padStart(2, "0") + ":" + String(s).padStart(2, "0");
  }

  function showClock(id, seconds) {
    const element = $(id);
    element.textContent = clock(seconds);
    element.dataset.seconds = seconds.toFixed(3);
  }

  function showError(message) {
    const box = $("error");
    box.textContent = message;
    box.hidden = !message;
  }

  function render() {
    if (!snapshot) return;
    const elapsed = (Date.now() - fetchedAt) / 1000;
    const status = snapshot.status;
    const inSession = snapshot.session.first_online !== null;
    const time = Object.assign({}, snapshot.time);
    if (inSession && status.current) time[status.current] += elapsed;
    const total = inSession ? snapshot.session.seconds + elapsed : 0;
    const inStatus = status.current ? status.seconds + elapsed : 0;

    $("name").textContent = snapshot.name || snapshot.agent_id;
    $("status-dot").className = "dot " + (status.current || "");
    if (document.activeElement !== $("status-select")) $("status-select").value = status.current || "offline";
    showClock("status-seconds", inStatus);
    showClock("total", total);
    $("closed").textContent = snapshot.chats.closed;
    $("missed").textContent = snapshot.chats.missed;
    $("on-hold").textContent = snapshot.chats.on_hold;
    $("active").textContent = snapshot.chats.active;
    showClock("online-time", time.online);
    showClock("offline-time", time.offline);
    showClock("paused-time", time.paused);
    showClock("center-online", time.online);
    $("center-status").textContent = (status.current || "no status") + " " + clock(inStatus);
    $("first-online").textContent = inSession
      ? new Date(snapshot.session.first_online).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
      : "—";
    $("first-online").dataset.value = snapshot.session.first_online || "";

    let offset = 0;
    for (const part of ["online", "paused", "offline"]) {
      const share = total > 0 ? (time[part] / total) * CIRCUMFERENCE : 0;
      const arc = $("arc-" + part);
      arc.style.strokeDasharray = share + " " + (CIRCUMFERENCE - share);
      arc.style.strokeDashoffset = String(-offset);
      offset += share;
    }
  }

  async function refresh() {
    try {
      const answer = await fetch("/agents/" + encodeURIComponent(agentId), { headers: headers() });
      const body = await answer.json();
      if (!answer.ok) {
        showError(answer.status === 404 ? "No events for agent " + agentId + " yet." : body.error);
        return;
      }
      snapshot = body;
      fetchedAt = Date.now();
      showError("");
      render();
    } catch (error) {
      showError("Cannot reach streamstats: " + error.message);
    }
  }

  async function setStatus(status) {
    const answer = await fetch("/agents/" + encodeURIComponent(agentId) + "/status", {
      method: "POST",
      headers: Object.assign({ "Content-Type": "application/json" }, headers()),
      body: JSON.stringify({ status: status }),
    });
    if (!answer.ok) showError((await answer.json()).error);
    setTimeout(refresh, 200);
  }

  $("btn-online").addEventListener("click", () => setStatus("online"));
  $("btn-offline").addEventListener("click", () => setStatus("offline"));
  $("status-select").addEventListener("change", (event) => setStatus(event.target.value));
  $("toggle").addEventListener("click", () => {
    const collapsed = root.classList.toggle("collapsed");
    $("toggle").setAttribute("aria-expanded", String(!collapsed));
    $("toggle").textContent = collapsed ? "▸" : "▾";
  });

  // The breakdown (spec §9): the segments behind the wheel, the chats behind a counter.
  const BREAKDOWNS = {
    segments: ["Time in this session", ["Status", "Reason", "From", "To", "Duration"]],
    closed: ["Closed chats", ["Chat", "At", "Change", "Why"]],
    missed: ["Missed chats", ["Chat", "At", "Event"]],
    on_hold: ["Chats on hold", ["Chat", "Since"]],
    active: ["Active chats", ["Chat", "Since"]],
  };
  const when = (text) => new Date(text).toLocaleString([], { dateStyle: "short", timeStyle: "medium" });

  function breakdownRows(kind, body) {
    if (kind === "segments") {
      return body.session.segments.map((s) => [s.status, s.reason || "", when(s.from), when(s.to), clock(s.seconds)]);
    }
    const chats = body.chats;
    if (kind === "closed") {
      const counted = chats.closed.map((c) => [c.chat_id, when(c.at), c.change > 0 ? "+1" : "−1", c.why]);
      const dropped = chats.closed_not_counted.map((c) => [c.chat_id, when(c.at), "0 (was −1)", c.why]);
      return counted.concat(dropped);
    }
    if (kind === "missed") return chats.missed.map((c) => [c.chat_id, when(c.at), c.event_id]);
    return chats[kind].map((c) => [c.chat_id, when(c.since)]);
  }

  async function openBreakdown(kind) {
    const answer = await fetch("/agents/" + encodeURIComponent(agentId) + "/explain", { headers: headers() });
    const body = await answer.json();
    if (!answer.ok) {
      showError(body.error);
      return;
    }
    const [title, columns] = BREAKDOWNS[kind];
    const rows = breakdownRows(kind, body);
    $("breakdown-title").textContent = title;
    $("breakdown-summary").textContent =
      rows.length === 0 ? "Nothing yet in this session." : rows.length + " as of " + when(body.as_of);
    const table = $("breakdown-table");
    table.dataset.kind = kind;
    table.tHead.replaceChildren(row("th", columns));
    table.tBodies[0].replaceChildren(...rows.map((cells) => row("td", cells)));
    const dialog = $("breakdown");
    if (!dialog.open) dialog.showModal();
  }

  function row(tag, cells) {
    const tr = document.createElement("tr");
    for (const text of cells) {
      const cell = document.createElement(tag);
      cell.textContent = text;
      tr.appendChild(cell);
    }
    return tr;
  }

  for (const element of document.querySelectorAll("[data-explain]")) {
    element.addEventListener("click", () => openBreakdown(element.dataset.explain));
  }
  $("breakdown-close").addEventListener("click", () => $("breakdown").close());

  // Changes arrive as Server-Sent Events; a slow poll is the fallback and shows errors.
  function listen() {
    const query = token ? "?token=" + encodeURIComponent(token) : "";
    const source = new EventSource("/agents/" + encodeURIComponent(agentId) + "/stream" + query);
    source.addEventListener("panel", (message) => {
      snapshot = JSON.parse(message.data);
      fetchedAt = Date.now();
      showError("");
      render();
    });
  }

  refresh();
  if (window.EventSource) listen();
  setInterval(refresh, window.EventSource ? 10000 : 1000);
  setInterval(render, 250);
})();
