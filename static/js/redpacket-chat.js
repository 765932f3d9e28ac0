/* Red packets in a chat room: the packet bubble (RPChat.renderers.packet, drawn from
 * `message.packet` as the server decorated it), its live state from the room's events and
 * the viewer's own opens (已领取 / 已被领完 / 已过期), and the overlay that shows the open
 * (拆) card (redpacket.js) when a bubble is tapped (RPChat.openPacket).
 *
 * Loaded after chat.js, before the room starts: see the end of this file.
 */
(function () {
  "use strict";

  const RP = window.RP;
  const t = RP.gettext;
  const esc = RP.escapeHtml;

  function startChat(RPChat) {
    // Live state from events and the viewer's own opens; states only move forward
    // (active → finished/expired, not opened → opened), so merging keeps the newest.
    const live = new Map();

    function stateOf(message) {
      const base = message.packet || {};
      const extra = live.get(Number(message.packet_id)) || {};
      const status = [extra.status, base.status].find((s) => s && s !== "active") || "active";
      return { status, opened: Boolean(base.opened || extra.opened) };
    }

    function label(state) {
      if (state.opened) return t("已领取");
      if (state.status === "finished") return t("已被领完");
      if (state.status === "expired") return t("已过期");
      return "";
    }

    RPChat.renderers.packet = function (message, ctx) {
      const state = stateOf(message);
      const greeting = (message.packet && message.packet.greeting) || message.text || t("恭喜发财，大吉大利");
      const note = label(state);
      // 专属于{name}的红包: the server's text, the same for everyone in the room.
      const exclusive = (message.packet && message.packet.exclusive_label) || "";
      const bubble = document.createElement("button");
      bubble.type = "button";
      bubble.className = "bubble packet-bubble" + (note ? " packet-done" : "");
      bubble.dataset.packetState = state.opened ? "opened" : state.status;
      bubble.innerHTML =
        '<span class="packet-main"><span class="packet-icon" aria-hidden="true"></span>' +
        '<span class="packet-text"><span class="packet-greeting">' + esc(greeting) + "</span>" +
        (exclusive ? '<span class="packet-exclusive">' + esc(exclusive) + "</span>" : "") +
        (note ? '<span class="packet-state">' + esc(note) + "</span>" : "") +
        "</span></span>" +
        '<span class="packet-label">' + esc(t("微信红包")) + "</span>";
      bubble.setAttribute("aria-label", [greeting, exclusive, t("微信红包"), note].filter(Boolean).join("，"));
      bubble.setAttribute("aria-haspopup", "dialog");
      bubble.addEventListener("click", () => openOverlay(Number(message.packet_id), bubble));
      return ctx.frame(message, bubble);
    };

    function refresh(packetId) {
      document.querySelectorAll('li.msg-packet[data-packet-id="' + Number(packetId) + '"]').forEach((li) => {
        RPChat.updateMessage({ id: Number(li.dataset.messageId) });
      });
    }

    function learn(packetId, change) {
      const id = Number(packetId);
      const known = live.get(id) || {};
      live.set(id, {
        status: change.status && change.status !== "active" ? change.status : known.status,
        opened: Boolean(known.opened || change.opened),
      });
      refresh(id);
    }

    RPChat.onEvent("packet.claimed", (event) => {
      const mine = event.user && RPChat.me && event.user.id === RPChat.me.id;
      const finished = event.count && event.claimed_count >= event.count;
      learn(event.packet_id, { opened: mine, status: finished ? "finished" : undefined });
    });
    RPChat.onEvent("packet.finished", (event) => learn(event.packet_id, { status: "finished" }));
    RPChat.onEvent("packet.expired", (event) => learn(event.packet_id, { status: "expired" }));

    let overlay = null;

    function closeOverlay() {
      if (!overlay) return;
      overlay.release();
      overlay.node.remove();
      if (overlay.opener && overlay.opener.isConnected) overlay.opener.focus();
      overlay = null;
    }

    async function openOverlay(packetId, opener) {
      if (overlay) return;
      overlay = { pending: true };
      const fetched = await RP.packetCard.fetch(packetId, RPChat.room && RPChat.room.id);
      overlay = null;
      if (!fetched.ok || !fetched.card) {
        const error = document.getElementById("chat-error");
        if (error) {
          error.textContent = fetched.status === 404 ? t("红包不存在") : t("网络不可用，请稍后再试");
          error.hidden = false;
        }
        return;
      }
      const card = fetched.card;
      if (card.dataset.goesToResult === "1") {
        window.location.assign(card.dataset.resultUrl);
        return;
      }
      const node = document.createElement("div");
      node.className = "packet-overlay";
      node.setAttribute("role", "dialog");
      node.setAttribute("aria-modal", "true");
      const title = card.querySelector(".packet-card-title");
      if (title && title.id) node.setAttribute("aria-labelledby", title.id);
      const close = document.createElement("button");
      close.type = "button";
      close.className = "packet-overlay-close";
      close.setAttribute("aria-label", t("关闭"));
      close.textContent = "×";
      close.addEventListener("click", closeOverlay);
      node.append(card, close);
      node.addEventListener("click", (event) => { if (event.target === node) closeOverlay(); });
      document.body.appendChild(node);
      overlay = { node, opener, release: RP.trapKeys(node, closeOverlay) };
      RP.packetCard.enhance(card, {
        roomId: RPChat.room && RPChat.room.id,
        onOpened: (id) => learn(id, { opened: true }),
        onState: (id, code) => learn(id, { status: code }),
      });
      const focus = node.querySelector(".packet-open-button") || node.querySelector("a") || close;
      focus.focus();
    }

    RPChat.openPacket = openOverlay;
  }

  // Registered before chat-room.js starts the room (it starts on DOMContentLoaded, after
  // every script has run), so history is drawn with these bubbles from the start.
  if (window.RPChat) startChat(window.RPChat);
})();
