/* A chat room (chat/room.html) on top of chat.js: the message list (in id order, each
 * with its time label when far from the one before), older history on scroll, the read
 * marker, the live websocket with reconnect and catch-up, and the composer
 * (chat-composer.js). Starts on DOMContentLoaded, after every script has registered its
 * renderers. Provides RPChat.updateMessage and RPChat.reconnectNow.
 */
(function () {
  "use strict";

  const RP = window.RP;
  const RPChat = window.RPChat;
  const t = RP.gettext;
  const TIME_GAP_MS = 5 * 60 * 1000; // a time label between messages further apart
  const CATCH_UP_PAGES = 20;

  const byId = new Map(); // message id → message
  let state = null;

  /** Re-draw a message already shown (e.g. a packet bubble turning "已领取"). */
  RPChat.updateMessage = function (message) {
    if (!state) return;
    const old = state.list.querySelector(`[data-message-id="${Number(message.id)}"]`);
    byId.set(message.id, Object.assign(byId.get(message.id) || {}, message));
    if (!old) return;
    const fresh = RPChat.renderMessage(byId.get(message.id));
    fresh.classList.toggle("msg-show-time", old.classList.contains("msg-show-time"));
    old.replaceWith(fresh);
  };

  /** Reconnect at once (e.g. when the page becomes visible again). */
  RPChat.reconnectNow = function () {
    if (state && !RPChat.connected) { clearTimeout(state.retryTimer); connect(); }
  };

  // --- which messages show their time label ----------------------------------------
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

  // --- errors (history, the socket, the composer) ---------------------------------
  function showError(text) {
    state.error.textContent = text || t("发送失败，请稍后再试");
    state.error.hidden = false;
    clearTimeout(state.errorTimer);
    state.errorTimer = setTimeout(() => { state.error.hidden = true; }, 4000);
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

    RPChat.startComposer({
      url: state.urls.messages,
      onSent(message) {
        insertMessages([message]);
        scrollToBottom();
        markReadSoon();
      },
      onError: showError,
    });

    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) { markReadSoon(); RPChat.reconnectNow(); }
    });
    window.addEventListener("online", () => RPChat.reconnectNow());
    window.addEventListener("pagehide", () => { state.stopped = true; if (RPChat.socket) RPChat.socket.close(); });

    markReadSoon();
    connect();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const room = document.getElementById("chat");
    if (room) startRoom(room);
  });
})();
