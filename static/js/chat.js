/* The chat room's core: the RPChat namespace, its extension points and how a message is
 * drawn (the avatar/name row, the default renderers, the time labels). chat/room.html
 * loads chat.js, chat-composer.js, chat-room.js (which runs the room), then the red
 * packet app's redpacket.js and redpacket-chat.js.
 *
 * Extension points for other scripts (the red packet app), loaded after this file:
 *   RPChat.renderers[kind] = (message, ctx) => Node   how a message kind is drawn;
 *       ctx.frame(message, bubbleNode) wraps a bubble in the avatar/name row.
 *   RPChat.onEvent(type, fn)    fn(event) for every websocket event of that type
 *       ("*" for all), e.g. "packet.claimed", "notice", "wallet.credited".
 *   RPChat.updateMessage(message)  re-draw a message already shown (e.g. a packet
 *       bubble turning "已领取"); set by chat-room.js.
 *   RPChat.socket               the live WebSocket (tests close it to simulate a drop).
 * The room starts on DOMContentLoaded, so renderers registered by later scripts are in
 * place before the first message is drawn.
 */
(function () {
  "use strict";

  const RP = window.RP;
  const t = RP.gettext;
  const esc = RP.escapeHtml;

  const listeners = new Map();

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
  // Every page shows times in the site's time zone (TIME_ZONE, on <body>), as the pages the
  // server renders do, whatever the browser's own zone.
  const SITE_ZONE = document.body.dataset.timeZone || undefined;
  const zoneParts = new Intl.DateTimeFormat("en-US", {
    timeZone: SITE_ZONE, hourCycle: "h23", weekday: "short",
    year: "numeric", month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit",
  });
  const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

  /** The calendar fields of `date` in the site's zone. */
  function inZone(date) {
    const parts = {};
    for (const part of zoneParts.formatToParts(date)) parts[part.type] = part.value;
    return {
      year: +parts.year, month: +parts.month, day: +parts.day,
      hm: parts.hour + ":" + parts.minute, weekday: WEEKDAYS.indexOf(parts.weekday),
    };
  }

  function formatTime(iso) {
    const date = new Date(iso);
    if (isNaN(date)) return "";
    const then = inZone(date);
    const today = inZone(new Date());
    const dayNumber = (d) => Date.UTC(d.year, d.month - 1, d.day) / 86400000;
    const days = dayNumber(today) - dayNumber(then);
    if (days <= 0) return then.hm;
    if (days === 1) return t("昨天") + " " + then.hm;
    if (days < 7) {
      const names = [t("星期日"), t("星期一"), t("星期二"), t("星期三"), t("星期四"), t("星期五"), t("星期六")];
      return names[then.weekday] + " " + then.hm;
    }
    return then.year + "/" + then.month + "/" + then.day + " " + then.hm;
  }

  window.RPChat = RPChat;
})();
