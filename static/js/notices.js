/* 服务通知 (money notices) on every signed-in page: the user's live events, a toast per
 * money event, the wallet tab's badge, and catching up after a dropped connection.
 *
 * The socket: a chat room already holds one (chat-room.js) that also carries the user's
 * own events, so there this script listens through RPChat.onEvent; every other page
 * opens the URL in <body data-live-socket> (/ws/me/, or the result page's room socket)
 * and reconnects with backoff. Other scripts hear the same socket through
 * RP.live.on(type, fn) ("socket.open" after each (re)connect, with {reconnect}).
 *
 * Catching up: <body data-notice-after> is the newest notice the page was rendered with;
 * after every (re)connect and after every money event the page asks the server for the
 * notices after the newest it knows (GET data-notices-url?after=). Those it did not hear
 * live (the socket was down) get their toast then; the badge takes the server's count.
 */
(function () {
  "use strict";

  const RP = window.RP;
  const t = RP.gettext;
  const body = document.body;
  const feedUrl = body.dataset.noticesUrl;
  if (!feedUrl) return;

  const MONEY_EVENTS = ["wallet.credited", "wallet.refunded", "wallet.received", "wallet.topped_up", "wallet.withdrawn"];
  const HEARD_FOR_MS = 60 * 1000; // an event heard live is not toasted again by a catch-up
  const TOAST_MS = 4000;

  const listeners = new Map();
  const live = {
    socket: null,
    connected: false,
    backoff: { base: 1000, max: 15000 },
    lastId: Number(body.dataset.noticeAfter || 0),
    on(type, fn) {
      if (!listeners.has(type)) listeners.set(type, []);
      listeners.get(type).push(fn);
    },
    emit(type, event) {
      for (const fn of listeners.get(type) || []) {
        try { fn(event); } catch (err) { console.error("RP.live listener failed", type, err); }
      }
    },
    reconnectNow() {},
  };
  RP.live = live;

  // --- what a notice is called (the server's titles, wallet/notices.py) -----------------
  function describe(event) {
    switch (event.type) {
      case "wallet.credited":
        return event.source === "shake" ? t("摇一摇红包入账") : t("红包入账");
      case "wallet.refunded": return t("红包退款");
      case "wallet.received": return t("收到转账");
      case "wallet.topped_up": return t("充值到账");
      case "wallet.withdrawn": return t("提现");
      default: return "";
    }
  }

  /** One key for a live event and the notice it became, to toast each once. */
  function eventKey(event) {
    switch (event.type) {
      case "wallet.credited":
        return event.source === "shake" ? "win_credit:" + event.win_id : "claim_credit:" + event.packet_id;
      case "wallet.refunded": return "packet_refund:" + event.packet_id;
      case "wallet.received": return "transfer:" + (event.from && event.from.id) + ":" + event.amount_fen;
      case "wallet.topped_up": return "topup:" + event.amount_fen;
      case "wallet.withdrawn": return "withdraw:" + event.amount_fen;
      default: return "";
    }
  }

  function noticeKey(notice) {
    const amount = Math.abs(notice.amount_fen);
    switch (notice.kind) {
      case "claim_credit": return "claim_credit:" + notice.packet_id;
      case "win_credit": return "win_credit:" + notice.win_id;
      case "packet_refund": return "packet_refund:" + notice.packet_id;
      case "transfer": return "transfer:" + (notice.sender && notice.sender.id) + ":" + amount;
      case "topup": return "topup:" + amount;
      case "withdraw": return "withdraw:" + amount;
      default: return notice.kind + ":" + notice.id;
    }
  }

  const heard = new Map(); // key → when it was heard live

  function takeHeard(key) {
    const now = Date.now();
    for (const [k, at] of heard) if (now - at > HEARD_FOR_MS) heard.delete(k);
    if (!heard.has(key)) return false;
    heard.delete(key);
    return true;
  }

  // --- toasts ----------------------------------------------------------------------------
  let stack = null;

  function toast(title, amountFen, extra) {
    if (!stack) {
      stack = document.createElement("div");
      stack.className = "toast-stack";
      stack.setAttribute("role", "status");
      stack.setAttribute("aria-live", "polite");
      document.body.append(stack);
    }
    const item = document.createElement("div");
    item.className = "toast";
    item.dataset.testid = "toast";
    const what = document.createElement("span");
    what.className = "toast-title";
    what.textContent = title + (extra ? " · " + extra : "");
    const amount = document.createElement("span");
    amount.className = "toast-amount money";
    amount.textContent = (amountFen < 0 ? "-¥" : "+¥") + RP.yuan(Math.abs(amountFen));
    item.append(what, amount);
    stack.append(item);
    setTimeout(() => item.remove(), TOAST_MS);
  }

  // --- the badge and the 服务通知 page ----------------------------------------------------
  const onNoticesPage = body.classList.contains("notices-page");

  function setBadge(count) {
    for (const badge of document.querySelectorAll("[data-notice-badge]")) {
      badge.textContent = count > 0 ? String(count) : "";
      badge.hidden = !(count > 0);
    }
  }

  function showOnNoticesPage(notices) {
    const list = document.getElementById("notice-list");
    if (!list || !notices.length) return;
    const empty = document.getElementById("notice-empty");
    if (empty) empty.remove();
    for (const notice of notices) {
      if (list.querySelector(`[data-notice-id="${Number(notice.id)}"]`)) continue;
      const li = document.createElement("li");
      li.className = "notice-item notice-new";
      li.dataset.noticeId = notice.id;
      const link = document.createElement("a");
      link.className = "notice-link";
      link.href = notice.url;
      const main = document.createElement("span");
      main.className = "notice-main";
      const title = document.createElement("span");
      title.className = "notice-title";
      title.textContent = notice.title;
      const sub = document.createElement("span");
      sub.className = "notice-sub";
      sub.textContent = (notice.sender ? t("来自") + (notice.sender.display_name || notice.sender.username) + " · " : "") + notice.time_label;
      main.append(title, sub);
      const amount = document.createElement("span");
      amount.className = "notice-amount money" + (notice.amount_fen > 0 ? " in" : "");
      amount.textContent = (notice.amount_fen > 0 ? "+" : "") + RP.yuan(notice.amount_fen);
      link.append(main, amount);
      li.append(link);
      list.prepend(li);
    }
  }

  // --- catching up -------------------------------------------------------------------------
  let syncing = Promise.resolve();

  /** Ask for the notices after the newest one known; toast those not heard live. */
  function sync() {
    syncing = syncing.then(async () => {
      const res = await RP.api(feedUrl + "?after=" + live.lastId);
      if (!res.ok || !res.data) return;
      const fresh = res.data.results || [];
      for (const notice of fresh) {
        live.lastId = Math.max(live.lastId, notice.id);
        if (!takeHeard(noticeKey(notice))) {
          toast(notice.title, notice.amount_fen, notice.sender && (notice.sender.display_name || notice.sender.username));
        }
      }
      if (onNoticesPage) {
        showOnNoticesPage(fresh);
        if (fresh.length) RP.api(feedUrl + "/seen", { body: { up_to: live.lastId } });
        setBadge(0);
      } else {
        setBadge(res.data.unseen);
      }
      live.emit("notices.synced", { notices: fresh });
    }).catch((err) => console.error("notices sync failed", err));
    return syncing;
  }
  live.sync = sync;

  function onMoneyEvent(event) {
    heard.set(eventKey(event), Date.now());
    const from = event.type === "wallet.received" && event.from ? (event.from.display_name || event.from.username) : "";
    toast(describe(event), event.type === "wallet.withdrawn" ? -event.amount_fen : event.amount_fen, from);
    sync();
  }

  let opens = 0;
  function onOpen() {
    opens += 1;
    sync();
    live.emit("socket.open", { reconnect: opens > 1 });
  }

  // --- the socket --------------------------------------------------------------------------
  function handle(event) {
    if (!event || typeof event.type !== "string") return;
    if (MONEY_EVENTS.includes(event.type)) onMoneyEvent(event);
    live.emit(event.type, event);
  }

  let attempts = 0;
  let retryTimer = null;
  let stopped = false;

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    let ws;
    try {
      ws = new WebSocket(scheme + location.host + (body.dataset.liveSocket || "/ws/me/"));
    } catch (err) {
      scheduleReconnect();
      return;
    }
    live.socket = ws;
    ws.addEventListener("open", () => {
      if (live.socket !== ws) return;
      live.connected = true;
      attempts = 0;
      onOpen();
    });
    ws.addEventListener("message", (e) => {
      let event;
      try { event = JSON.parse(e.data); } catch (err) { return; }
      handle(event);
    });
    ws.addEventListener("close", () => {
      if (live.socket !== ws) return;
      live.connected = false;
      live.emit("socket.close", {});
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    if (stopped) return;
    attempts += 1;
    const base = live.backoff.base * Math.pow(2, Math.min(attempts - 1, 6));
    const delay = Math.min(live.backoff.max, base) * (0.8 + Math.random() * 0.4);
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, delay);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const RPChat = window.RPChat;
    if (RPChat && document.getElementById("chat")) {
      // The room's own socket carries the user's events too: no second connection.
      for (const type of MONEY_EVENTS) RPChat.onEvent(type, (event) => onMoneyEvent(event));
      RPChat.onEvent("socket.open", onOpen);
      return;
    }
    live.reconnectNow = () => {
      if (!live.connected) { clearTimeout(retryTimer); connect(); }
    };
    document.addEventListener("visibilitychange", () => { if (!document.hidden) live.reconnectNow(); });
    window.addEventListener("online", () => live.reconnectNow());
    window.addEventListener("pagehide", () => { stopped = true; if (live.socket) live.socket.close(); });
    connect();
  });
})();
