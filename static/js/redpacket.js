/* The open (拆) card, shared by its own page (/packets/<id>/) and the chat room's overlay
 * (redpacket-chat.js): RP.packetCard.fetch(packetId, roomId) loads the server's card,
 * RP.packetCard.enhance(card, options) wires its 开 button. On the open page every card
 * is wired on load.
 *
 * The card's HTML comes from the server (redpacket/_open_card.html, the same template as
 * the page): nothing here decides a product rule on its own.
 */
(function () {
  "use strict";

  const RP = window.RP;
  const t = RP.gettext;
  const URLS = {
    card: (id) => "/packets/" + Number(id) + "/card/",
    open: (id) => "/api/packets/" + Number(id) + "/open",
  };

  async function fetchCard(packetId, roomId) {
    const url = URLS.card(packetId) + (roomId ? "?room=" + Number(roomId) : "");
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!response.ok) return { ok: false, status: response.status };
      const holder = document.createElement("div");
      holder.innerHTML = (await response.text()).trim();
      return { ok: true, card: holder.querySelector("[data-packet-card]") };
    } catch (err) {
      return { ok: false, status: 0 };
    }
  }

  /** Wire the 开 button of a card: open through the API, then the result page; when it
   * finished or expired meanwhile, the card is replaced by the server's new variant.
   * options: roomId, onOpened(packetId), onState(packetId, "finished" | "expired"). */
  function enhanceCard(card, options) {
    const opts = options || {};
    const form = card.querySelector("[data-open-form]");
    if (!form) return;
    const button = form.querySelector("button");
    const error = card.querySelector("[data-open-error]");
    const packetId = Number(card.dataset.packetId);
    let busy = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (busy) return;
      busy = true;
      button.classList.add("spinning");
      button.setAttribute("aria-busy", "true");
      const res = await RP.api(URLS.open(packetId), { method: "POST" });
      if (res.ok) {
        if (opts.onOpened) opts.onOpened(packetId);
        window.location.assign(card.dataset.resultUrl);
        return;
      }
      button.classList.remove("spinning");
      button.removeAttribute("aria-busy");
      busy = false;
      const code = res.data && res.data.code;
      if (code === "finished" || code === "expired") {
        if (opts.onState) opts.onState(packetId, code);
        const fresh = await fetchCard(packetId, opts.roomId);
        if (fresh.ok && fresh.card) {
          card.replaceWith(fresh.card);
          enhanceCard(fresh.card, opts);
          const focus = fresh.card.querySelector("a, button");
          if (focus) focus.focus();
          return;
        }
      }
      error.textContent = (res.data && res.data.message) || t("网络不可用，请稍后再试");
    });
  }

  RP.packetCard = { fetch: fetchCard, enhance: enhanceCard };

  document.addEventListener("DOMContentLoaded", () => {
    if (!document.body.classList.contains("packet-open-page")) return;
    document.querySelectorAll("[data-packet-card]").forEach((card) => enhanceCard(card, {}));
  });
})();
