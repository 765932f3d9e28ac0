/* Chat pages: a room (history, live messages over the websocket, the composer) and the
 * room list (kept current by polling its rows).
 *
 * Extension points for other scripts (the red packet app), loaded after this file:
 *   RPChat.renderers[kind] = (message, ctx) => Node   how a message kind is drawn;
 *       ctx.frame(message, bubbleNode) wraps a bubble in the avatar/name row.
 *   RPChat.onEvent(type, fn)    fn(event) for every websocket event of that type
 *       ("*" for all), e.g. "packet.claimed", "notice", "wallet.credited".
 *   RPChat.updateMessage(message)  re-draw a message already shown (e.g. a packet
 *       bubble turning "已领取").
 *   RPChat.socket               the live WebSocket (tests close it to simulate a drop).
 * The room starts on DOMContentLoaded, so renderers registered by later scripts are in
 * place before the first message is drawn.
 */
(function () {
  "use strict";

  const RP = window.RP;
  const t = RP.gettext;
  const esc = RP.escapeHtml;
  const TIME_GAP_MS = 5 * 60 * 1000; // a time label between messages further apart
  const CATCH_UP_PAGES = 20;
  const POLL_MS = 5000;

  const listeners = new Map();
  const byId = new Map(); // message id → message
  let state = null;

  const RPChat = {
    renderers: {},
    socket: null,
    connected: false,
    backoff: { base: 1000, max: 15000 },
    room: null,
    me: null,

    /** Call fn(event) for every websocket event of `type` ("*": every event). */
    onEvent(type, fn) {
      if (!listeners.has(type)) listeners.set(type, []);
      listeners.get(type).push(fn);
      return () => listeners.set(type, listeners.get(type).filter((f) => f !== fn));
    },

    emit(type, event) {
      for (const key of [type, "*"]) {
        for (const fn of listeners.get(key) || []) {
          try { fn(event); } catch (err) { console.error("RPChat listener failed", type, err); }
        }
      }
    },

    /** Wrap a bubble in the avatar (and, in groups, the sender's name) row. */
    frame(message, bubble) {
      const mine = RPChat.me && message.sender && message.sender.id === RPChat.me.id;
      const row = document.createElement("div");
      row.className = "msg-row" + (mine ? " msg-row-mine" : "");
      const sender = message.sender || {};
      const avatar = document.createElement("span");
      avatar.className = "avatar avatar-sm msg-avatar";
      avatar.style.background = sender.avatar_colour || "#ccc";
      avatar.setAttribute("aria-hidden", "true");
      avatar.textContent = (sender.display_name || sender.username || "?").slice(0, 1).toUpperCase();
      const body = document.createElement("div");
      body.className = "msg-body";
      const name = document.createElement("span");
      name.className = (RPChat.room && RPChat.room.kind === "group" && !mine) ? "msg-name" : "msg-name visually-hidden";
      name.textContent = (mine ? t("我") : (sender.display_name || sender.username || "")) + (mine ? "" : ":");
      body.append(name, bubble);
      row.append(avatar, body);
      return row;
    },

    renderMessage(message) {
      const renderer = RPChat.renderers[message.kind] || RPChat.renderers.text;
      const li = document.createElement("li");
      li.className = "msg msg-" + message.kind;
      li.dataset.messageId = message.id;
      if (message.packet_id != null) li.dataset.packetId = message.packet_id;
      if (RPChat.me && message.sender && message.sender.id === RPChat.me.id) li.classList.add("msg-mine");
      const time = document.createElement("div");
      time.className = "msg-time";
      time.textContent = formatTime(message.created_at);
      li.append(time);
      let node;
      try {
        node = renderer(message, { frame: RPChat.frame, me: RPChat.me, room: RPChat.room, t, esc });
      } catch (err) {
        console.error("renderer failed for", message, err);
        node = RPChat.renderers.text(message, { frame: RPChat.frame });
      }
      if (node) li.append(node);
      return li;
    },

    updateMessage(message) {
      if (!state) return;
      const old = state.list.querySelector(`[data-message-id="${Number(message.id)}"]`);
      byId.set(message.id, Object.assign(byId.get(message.id) || {}, message));
      if (!old) return;
      const fresh = RPChat.renderMessage(byId.get(message.id));
      fresh.classList.toggle("msg-show-time", old.classList.contains("msg-show-time"));
      old.replaceWith(fresh);
    },

    /** Reconnect at once (e.g. when the page becomes visible again). */
    reconnectNow() {
      if (state && !RPChat.connected) { clearTimeout(state.retryTimer); connect(); }
    },
  };

  // --- default renderers -----------------------------------------------------------
  RPChat.renderers.text = function (message, ctx) {
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.textContent = message.text;
    return ctx.frame(message, bubble);
  };

  RPChat.renderers.notice = function (message) {
    const notice = document.createElement("p");
    notice.className = "notice";
    notice.textContent = message.text;
    return notice;
  };

  // Until the red packet app registers its own renderer: a plain packet bubble.
  RPChat.renderers.packet = function (message, ctx) {
    const bubble = document.createElement("div");
    bubble.className = "bubble packet-bubble";
    bubble.innerHTML =
      '<span class="packet-main"><span class="packet-icon" aria-hidden="true"></span>' +
      '<span class="packet-greeting">' + esc(message.text || t("恭喜发财，大吉大利")) + "</span></span>" +
      '<span class="packet-label">' + esc(t("微信红包")) + "</span>";
    return ctx.frame(message, bubble);
  };

  // --- time labels -----------------------------------------------------------------
  function formatTime(iso) {
    const date = new Date(iso);
    if (isNaN(date)) return "";
    const now = new Date();
    const hm = String(date.getHours()).padStart(2, "0") + ":" + String(date.getMinutes()).padStart(2, "0");
    const startOfDay = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
    const days = Math.round((startOfDay(now) - startOfDay(date)) / 86400000);
    if (days <= 0) return hm;
    if (days === 1) return t("昨天") + " " + hm;
    if (days < 7) {
      const names = [t("星期日"), t("星期一"), t("星期二"), t("星期三"), t("星期四"), t("星期五"), t("星期六")];
      return names[date.getDay()] + " " + hm;
    }
    return date.getFullYear() + "/" + (date.getMonth() + 1) + "/" + date.getDate() + " " + hm;
  }

  function refreshTimeLabel(li) {
    if (!li) return;
    const prev = li.previousElementSibling;
    const current = byId.get(Number(li.dataset.messageId));
    const before = prev && byId.get(Number(prev.dataset.messageId));
    const gap = !before || (new Date(current.created_at) - new Date(before.created_at)) > TIME_GAP_MS;
    li.classList.toggle("msg-show-time", gap);
  }

  // --- the message list ------------------------------------------------------------
  function nearBottom() {
    const el = state.scroll;
    return el.scrollHeight - el.scrollTop - el.clientHeight < 80;
  }

  function scrollToBottom() {
    state.scroll.scrollTop = state.scroll.scrollHeight;
  }

  /** Insert messages (any order, duplicates ignored) at their place by id. */
  function insertMessages(messages) {
    const fresh = messages.filter((m) => m && m.room_id === RPChat.room.id && !byId.has(m.id));
    if (!fresh.length) return [];
    fresh.sort((a, b) => a.id - b.id);
    const list = state.list;
    const stick = nearBottom();
    const fromBottom = state.scroll.scrollHeight - state.scroll.scrollTop;
    let prependedOnly = true;
    for (const message of fresh) {
      byId.set(message.id, message);
      const li = RPChat.renderMessage(message);
      let next = null;
      for (const child of list.children) {
        if (Number(child.dataset.messageId) > message.id) { next = child; break; }
      }
      if (!next) prependedOnly = false;
      list.insertBefore(li, next);
      refreshTimeLabel(li);
      refreshTimeLabel(li.nextElementSibling);
    }
    if (prependedOnly && list.children.length > fresh.length) {
      state.scroll.scrollTop = state.scroll.scrollHeight - fromBottom; // keep the reader's place
    } else if (stick || fresh.some((m) => m.sender && m.sender.id === RPChat.me.id)) {
      scrollToBottom();
    }
    return fresh;
  }

  function newestId() {
    let newest = 0;
    for (const id of byId.keys()) newest = Math.max(newest, id);
    return newest;
  }

  function oldestId() {
    let oldest = Infinity;
    for (const id of byId.keys()) oldest = Math.min(oldest, id);
    return oldest === Infinity ? null : oldest;
  }

  // --- read marker -----------------------------------------------------------------
  function markReadSoon() {
    clearTimeout(state.readTimer);
    state.readTimer = setTimeout(() => {
      const newest = newestId();
      if (document.hidden || !newest || newest <= state.readUpTo) return;
      state.readUpTo = newest;
      RP.api(state.urls.read, { body: { message_id: newest } });
    }, 400);
  }

  // --- history ---------------------------------------------------------------------
  async function loadOlder() {
    if (state.loadingOlder || !state.hasMore) return;
    const oldest = oldestId();
    if (!oldest) return;
    state.loadingOlder = true;
    state.olderButton.disabled = true;
    const res = await RP.api(state.urls.messages + "?before=" + oldest);
    state.loadingOlder = false;
    state.olderButton.disabled = false;
    if (!res.ok) { showError(res.data && res.data.message); return; }
    insertMessages(res.data.results);
    state.hasMore = Boolean(res.data.next);
    state.olderButton.hidden = !state.hasMore;
  }

  /** Fetch everything newer than what is shown (after a reconnect: the missed messages). */
  async function catchUp() {
    const after = newestId();
    let url = state.urls.messages + "?limit=100" + (after ? "&after=" + after : "");
    for (let page = 0; url && page < CATCH_UP_PAGES; page++) {
      const res = await RP.api(url);
      if (!res.ok) return;
      insertMessages(res.data.results);
      url = res.data.next;
    }
    if (url) window.location.reload(); // missed more than we page through: start afresh
    markReadSoon();
  }

  // --- websocket -------------------------------------------------------------------
  function setStatus(text) {
    state.status.hidden = !text;
    state.status.textContent = text || "";
  }

  function belongsHere(event) {
    const roomId = event.room_id != null ? event.room_id : (event.message && event.message.room_id);
    return roomId == null || Number(roomId) === RPChat.room.id;
  }

  function handleEvent(event) {
    if (!event || typeof event.type !== "string") return;
    if (event.type === "error") {
      showError(event.message);
    } else if (belongsHere(event) && event.message && ["message.new", "packet.new", "notice"].includes(event.type)) {
      // A `notice` (e.g. "Bob领取了你的红包", to the packet's sender only) carries its
      // stored notice message: it shows as a centred line like one from history.
      insertMessages([event.message]);
      markReadSoon();
    }
    RPChat.emit(event.type, event);
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    let ws;
    try {
      ws = new WebSocket(scheme + location.host + state.urls.socket);
    } catch (err) {
      scheduleReconnect();
      return;
    }
    RPChat.socket = ws;
    ws.addEventListener("open", () => {
      if (RPChat.socket !== ws) return;
      RPChat.connected = true;
      state.attempts = 0;
      setStatus(null);
      catchUp(); // also covers messages posted between the page render and this moment
      RPChat.emit("socket.open", {});
    });
    ws.addEventListener("message", (e) => {
      let event;
      try { event = JSON.parse(e.data); } catch (err) { return; }
      handleEvent(event);
    });
    ws.addEventListener("close", () => {
      if (RPChat.socket !== ws) return;
      RPChat.connected = false;
      RPChat.emit("socket.close", {});
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    if (state.stopped) return;
    state.attempts += 1;
    const base = RPChat.backoff.base * Math.pow(2, Math.min(state.attempts - 1, 6));
    const delay = Math.min(RPChat.backoff.max, base) * (0.8 + Math.random() * 0.4);
    setStatus(t("连接已断开，正在重新连接…"));
    clearTimeout(state.retryTimer);
    state.retryTimer = setTimeout(connect, delay);
  }

  // --- composer --------------------------------------------------------------------
  function showError(text) {
    state.error.textContent = text || t("发送失败，请稍后再试");
    state.error.hidden = false;
    clearTimeout(state.errorTimer);
    state.errorTimer = setTimeout(() => { state.error.hidden = true; }, 4000);
  }

  function updateComposer() {
    const empty = !state.input.value.trim();
    state.form.classList.toggle("composer-empty", empty);
    state.input.style.height = "auto";
    state.input.style.height = Math.min(state.input.scrollHeight, 120) + "px";
  }

  async function send() {
    const text = state.input.value.trim();
    if (!text || state.sending) return;
    state.sending = true;
    state.sendButton.disabled = true;
    const res = await RP.api(state.urls.messages, { body: { text } });
    state.sending = false;
    state.sendButton.disabled = false;
    if (res.ok) {
      state.input.value = "";
      updateComposer();
      insertMessages([res.data]);
      scrollToBottom();
      markReadSoon();
    } else {
      showError(res.data && (res.data.fields && res.data.fields.text || res.data.message));
    }
    state.input.focus();
  }

  function setMenu(open) {
    state.menu.hidden = !open;
    state.plus.setAttribute("aria-expanded", String(open));
    if (open) {
      const first = state.menu.querySelector("[role=menuitem]");
      if (first) first.focus();
    }
  }

  // --- start -----------------------------------------------------------------------
  function startRoom(root) {
    const initial = JSON.parse(document.getElementById("chat-initial").textContent);
    RPChat.room = initial.room;
    RPChat.me = initial.me;
    state = {
      root,
      urls: initial.urls,
      scroll: document.getElementById("chat-scroll"),
      list: document.getElementById("chat-messages"),
      olderButton: document.getElementById("chat-older"),
      status: document.getElementById("chat-status"),
      error: document.getElementById("chat-error"),
      form: document.getElementById("composer"),
      input: document.getElementById("composer-text"),
      sendButton: document.getElementById("composer-send"),
      plus: document.getElementById("composer-plus"),
      menu: document.getElementById("plus-menu"),
      hasMore: initial.has_more,
      attempts: 0,
      readUpTo: 0,
    };
    insertMessages(initial.messages);
    scrollToBottom();
    state.olderButton.hidden = !state.hasMore;
    state.olderButton.addEventListener("click", loadOlder);
    if ("IntersectionObserver" in window) {
      new IntersectionObserver((entries) => {
        if (entries.some((e) => e.isIntersecting) && byId.size) loadOlder();
      }, { root: state.scroll }).observe(state.olderButton);
    }

    state.form.addEventListener("submit", (e) => { e.preventDefault(); send(); });
    state.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        send();
      }
    });
    state.input.addEventListener("input", updateComposer);
    updateComposer();

    state.plus.addEventListener("click", () => setMenu(state.menu.hidden));
    state.menu.addEventListener("keydown", (e) => {
      if (e.key === "Escape") { setMenu(false); state.plus.focus(); }
    });
    document.addEventListener("click", (e) => {
      if (!state.menu.hidden && !state.menu.contains(e.target) && e.target !== state.plus) setMenu(false);
    });

    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) { markReadSoon(); RPChat.reconnectNow(); }
    });
    window.addEventListener("online", () => RPChat.reconnectNow());
    window.addEventListener("pagehide", () => { state.stopped = true; if (RPChat.socket) RPChat.socket.close(); });

    markReadSoon();
    connect();
  }

  /** The room list: refresh its rows every few seconds while the page is visible. */
  function startRoomList(list) {
    const url = list.dataset.partialUrl;
    let last = list.innerHTML;
    async function refresh() {
      if (document.hidden) return;
      try {
        const response = await fetch(url, { credentials: "same-origin" });
        if (!response.ok) return;
        const html = await response.text();
        if (html !== last) { list.innerHTML = html; last = html; }
      } catch (err) { /* offline: try again on the next tick */ }
    }
    setInterval(refresh, POLL_MS);
    document.addEventListener("visibilitychange", refresh);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const room = document.getElementById("chat");
    if (room) startRoom(room);
    const list = document.getElementById("room-list");
    if (list && list.dataset.partialUrl) startRoomList(list);
  });

  window.RPChat = RPChat;
})();
