/* Red packet pages: the send page (live total, the kind switch, inline errors, the pay
 * sheet), the open (拆) card as a chat overlay and as a page, the packet bubbles in a
 * room, and 我的红包's year picker.
 *
 * Nothing here decides a product rule on its own: the open card's HTML comes from the
 * server (redpacket/_open_card.html, the same template as the page), the bubbles draw
 * `message.packet` as the server decorated it, and the send page's checks mirror
 * `rules.send_errors` with the limits and the texts the server hands over.
 */
(function () {
  "use strict";

  const RP = window.RP;
  const t = RP.gettext;
  const esc = RP.escapeHtml;
  const URLS = {
    card: (id) => "/packets/" + Number(id) + "/card/",
    open: (id) => "/api/packets/" + Number(id) + "/open",
  };

  // --- shared: a modal's keyboard behaviour ----------------------------------------
  function focusables(root) {
    return Array.from(root.querySelectorAll(
      'a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select, textarea, [tabindex]:not([tabindex="-1"])'
    )).filter((el) => el.offsetParent !== null || el === document.activeElement);
  }

  /** Keep Tab inside `root`; Escape calls `onEscape` (unless a PIN pad sits on top). */
  function trapKeys(root, onEscape) {
    function onKey(event) {
      if (document.querySelector(".pinpad")) return; // the PIN pad has the keyboard
      if (event.key === "Escape") { event.preventDefault(); onEscape(); return; }
      if (event.key !== "Tab") return;
      const items = focusables(root);
      if (!items.length) return;
      const first = items[0], last = items[items.length - 1];
      if (event.shiftKey && document.activeElement === first) { event.preventDefault(); last.focus(); }
      else if (!event.shiftKey && document.activeElement === last) { event.preventDefault(); first.focus(); }
    }
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }

  // === The send page (发红包) ========================================================
  function startSend(form) {
    const config = JSON.parse(document.getElementById("packet-send-config").textContent);
    const L = config.limits;
    const T = config.texts;
    const direct = config.direct;
    const input = (name) => form.querySelector('[name="' + name + '"]');
    const count = input("count");
    const total = input("total_fen");
    const share = input("share_fen");
    const greeting = input("greeting");
    const kindInput = input("kind");
    const errorBox = document.getElementById("send-errors");
    const totalText = document.getElementById("send-total");
    const submit = document.getElementById("send-submit");
    const sheet = document.getElementById("pay-sheet");
    let kind = direct ? "normal" : kindInput.value || "lucky";
    let showAll = false;

    // With JavaScript the pay sheet asks how to pay; the plain form's fields go away.
    form.querySelectorAll("[data-nojs]").forEach((el) => { el.hidden = true; });
    // Errors the server already showed (no-JS post, a refused payment) stay until the
    // person edits something.
    let keepServerErrors = !errorBox.hidden;

    function amountOf(el) {
      const raw = el ? el.value.trim() : "";
      if (!raw) return { fen: null, empty: true, bad: false };
      const fen = RP.parseFen(raw);
      return { fen, empty: false, bad: fen === null };
    }

    function values() {
      const rawCount = count ? count.value.trim() : "1";
      return {
        kind,
        count: /^\d+$/.test(rawCount) ? parseInt(rawCount, 10) : null,
        countEmpty: !rawCount,
        total: amountOf(total),
        share: amountOf(share),
        greeting: (greeting.value || "").trim(),
      };
    }

    /** rules.send_errors, in the same order, with the same texts. */
    function sendErrors(v) {
      const e = {};
      if (direct && v.kind !== "normal") e.kind = T.kind_direct;
      if (v.count === null || v.count < 1) e.count = T.count_min;
      else if (v.count > L.max_count) e.count = T.count_max;
      else if (direct && v.count !== 1) e.count = T.count_direct;
      else if (!direct && v.count > config.member_count) e.count = T.count_members;
      if (v.kind === "lucky") {
        const fen = v.total.fen;
        if (v.total.bad) e.total_fen = config.amount_invalid;
        else if (fen === null) e.total_fen = T.total_required;
        else if (v.count && !e.count) {
          if (fen < v.count * L.min_share_fen) e.total_fen = T.too_small;
          else if (fen > v.count * L.max_share_fen) e.total_fen = T.too_big;
        } else if (fen < L.min_share_fen) e.total_fen = T.too_small;
      } else {
        const fen = v.share.fen;
        if (v.share.bad) e.share_fen = config.amount_invalid;
        else if (fen === null) e.share_fen = T.share_required;
        else if (fen < L.min_share_fen) e.share_fen = T.too_small;
        else if (fen > L.max_share_fen) e.share_fen = T.too_big;
      }
      if (Array.from(v.greeting).length > L.greeting_max) e.greeting = T.greeting_max;
      return e;
    }

    function totalFen(v) {
      if (v.kind === "lucky") return v.total.fen;
      if (v.share.fen === null) return null;
      return v.share.fen * (direct ? 1 : (v.count || 0));
    }

    /** Which errors to show: not "please fill in" for a field nobody has typed in yet. */
    function visible(errors, v) {
      if (showAll) return errors;
      const shown = {};
      for (const [name, text] of Object.entries(errors)) {
        if (name === "count" && v.countEmpty) continue;
        if (name === "total_fen" && v.total.empty) continue;
        if (name === "share_fen" && v.share.empty) continue;
        shown[name] = text;
      }
      return shown;
    }

    function render() {
      const v = values();
      const errors = sendErrors(v);
      const shown = visible(errors, v);
      const fen = totalFen(v);
      totalText.textContent = RP.yuan(fen || 0);
      submit.disabled = Object.keys(errors).length > 0;
      if (keepServerErrors) return { v, errors, fen };
      form.querySelectorAll("[data-cell]").forEach((cell) => {
        const name = cell.dataset.cell;
        cell.classList.toggle("invalid", Boolean(shown[name]));
        const field = cell.querySelector("input");
        if (field) field.setAttribute("aria-invalid", shown[name] ? "true" : "false");
      });
      const texts = Object.values(shown);
      errorBox.hidden = texts.length === 0;
      errorBox.innerHTML = texts.map((text) => "<p>" + esc(text) + "</p>").join("");
      return { v, errors, fen };
    }

    function setKind(next) {
      kind = next;
      kindInput.value = next;
      form.dataset.kind = next;
      form.querySelectorAll("[data-for-kind]").forEach((el) => { el.hidden = el.dataset.forKind !== next; });
    }

    /** "改为普通红包 / 改为拼手气红包" keeps what was typed (rules.switch_kind). */
    function switchTo(next) {
      const v = values();
      const leaving = next === "normal" ? v.total : v.share;
      const arriving = next === "normal" ? share : total;
      if (leaving.fen !== null) {
        const n = v.count && v.count >= 1 ? v.count : null;
        const fen = n === null ? leaving.fen : (next === "normal" ? Math.floor(leaving.fen / n) : leaving.fen * n);
        arriving.value = RP.yuan(fen);
      }
      setKind(next);
      keepServerErrors = false;
      render();
      const back = form.querySelector('[data-switch="' + (next === "normal" ? "lucky" : "normal") + '"]');
      if (back) back.focus();
    }

    form.querySelectorAll("[data-switch]").forEach((button) => {
      button.type = "button"; // a plain button here: the switch never posts the form
      button.addEventListener("click", (event) => {
        event.preventDefault();
        switchTo(button.dataset.switch);
      });
    });
    form.addEventListener("input", () => { keepServerErrors = false; render(); });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      keepServerErrors = false;
      const state = render();
      if (Object.keys(state.errors).length) {
        showAll = true;
        render();
        const bad = form.querySelector("[data-cell].invalid input");
        if (bad) bad.focus();
        return;
      }
      openSheet(state);
    });

    // --- the pay sheet ---------------------------------------------------------------
    const confirm = sheet.querySelector("[data-pay-confirm]");
    const sheetError = sheet.querySelector("[data-pay-error]");
    const addCard = sheet.querySelector("[data-pay-add-card]");
    const amountText = sheet.querySelector("[data-pay-amount]");
    let attemptKey = null; // one Idempotency-Key per payment attempt
    let paying = false;
    let pending = null;
    let releaseKeys = null;
    let pinError = "";
    let openedAt = 0;

    function payWith() {
      const checked = sheet.querySelector('input[name="sheet_pay_with"]:checked');
      return !checked || checked.value === "balance" ? "balance" : Number(checked.value);
    }

    function setSheetError(text) {
      sheetError.textContent = text || "";
    }

    function openSheet(state) {
      if (!sheet.hidden || paying) return; // a second tap while it is open does nothing
      pending = state;
      attemptKey = RP.newKey();
      pinError = "";
      amountText.textContent = RP.yuan(state.fen);
      setSheetError(config.pin_locked ? config.pin_locked_text : "");
      confirm.disabled = Boolean(config.pin_locked);
      addCard.hidden = true;
      openedAt = Date.now();
      sheet.hidden = false;
      releaseKeys = trapKeys(sheet, closeSheet);
      confirm.focus();
    }

    function closeSheet() {
      if (paying) return;
      sheet.hidden = true;
      if (releaseKeys) releaseKeys();
      submit.focus();
    }

    function requestBody() {
      const v = pending.v;
      const body = {
        room_id: config.room_id,
        kind: v.kind,
        count: direct ? 1 : v.count,
        greeting: v.greeting,
        pay_with: payWith(),
      };
      if (v.kind === "lucky") body.total_fen = v.total.fen;
      else body.share_fen = v.share.fen;
      return body;
    }

    async function pay() {
      if (paying || !pending) return;
      paying = true;
      confirm.disabled = true;
      const body = requestBody();
      if (config.has_pin) {
        const pin = await RP.pinPad({
          title: t("请输入支付密码"),
          amountText: "¥" + RP.yuan(pending.fen),
          error: pinError,
        });
        if (!pin) { paying = false; confirm.disabled = false; confirm.focus(); return; }
        body.pin = pin;
      }
      setSheetError(t("正在支付…"));
      const res = await RP.api(config.api, { body, idempotencyKey: attemptKey });
      if (res.ok) {
        setSheetError("");
        window.location.assign(config.room_url);
        return;
      }
      paying = false;
      confirm.disabled = false;
      const data = res.data || {};
      // A refusal is the final answer for its key: the next try is a new attempt. After a
      // network failure the same key is kept, so a retry can never pay twice.
      if (res.status >= 400 && res.status < 500) attemptKey = RP.newKey();
      pinError = "";
      addCard.hidden = true;
      if (res.status === 400 && data.fields) {
        sheet.hidden = true;
        if (releaseKeys) releaseKeys();
        errorBox.hidden = false;
        errorBox.innerHTML = Object.values(data.fields).map((text) => "<p>" + esc(text) + "</p>").join("");
        submit.focus();
        return;
      }
      const message = data.message || t("支付失败，请稍后再试");
      setSheetError(message);
      if (data.code === "insufficient_balance") {
        const card = sheet.querySelector('input[name="sheet_pay_with"]:not([value="balance"])');
        if (card) { card.checked = true; setSheetError(message + t("，请选择银行卡支付")); }
        else addCard.hidden = false;
      } else if (data.code === "wrong_pin") {
        pinError = message;
      } else if (data.code === "pin_locked") {
        confirm.disabled = true;
      }
      confirm.focus();
    }

    confirm.addEventListener("click", pay);
    sheet.querySelectorAll("[data-sheet-close]").forEach((b) => b.addEventListener("click", closeSheet));
    sheet.addEventListener("click", (event) => {
      // The second tap of a double tap lands on the backdrop: it must not close the sheet.
      if (event.target === sheet && Date.now() - openedAt > 500) closeSheet();
    });

    setKind(kind);
    render();
  }

  // === The open (拆) card: in the chat's overlay and on its own page ================
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

  /** Wire the 開 button of a card: open through the API, then the result page; when it
   * finished or expired meanwhile, the card is replaced by the server's new variant. */
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

  function startOpenPage() {
    document.querySelectorAll("[data-packet-card]").forEach((card) => enhanceCard(card, {}));
  }

  // === Chat: packet bubbles, live updates, the overlay ===============================
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
      const bubble = document.createElement("button");
      bubble.type = "button";
      bubble.className = "bubble packet-bubble" + (note ? " packet-done" : "");
      bubble.dataset.packetState = state.opened ? "opened" : state.status;
      bubble.innerHTML =
        '<span class="packet-main"><span class="packet-icon" aria-hidden="true"></span>' +
        '<span class="packet-text"><span class="packet-greeting">' + esc(greeting) + "</span>" +
        (note ? '<span class="packet-state">' + esc(note) + "</span>" : "") +
        "</span></span>" +
        '<span class="packet-label">' + esc(t("微信红包")) + "</span>";
      bubble.setAttribute("aria-label", [greeting, t("微信红包"), note].filter(Boolean).join("，"));
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
      const fetched = await fetchCard(packetId, RPChat.room && RPChat.room.id);
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
      overlay = { node, opener, release: trapKeys(node, closeOverlay) };
      enhanceCard(card, {
        roomId: RPChat.room && RPChat.room.id,
        onOpened: (id) => learn(id, { opened: true }),
        onState: (id, code) => learn(id, { status: code }),
      });
      const focus = node.querySelector(".packet-open-button") || node.querySelector("a") || close;
      focus.focus();
    }

    RPChat.openPacket = openOverlay;
  }

  // === 我的红包 ========================================================================
  function startRecords() {
    document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
      select.addEventListener("change", () => select.form.submit());
    });
    const tabs = Array.from(document.querySelectorAll('[role="tab"]'));
    tabs.forEach((tab, i) => {
      tab.addEventListener("keydown", (event) => {
        const step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
        if (!step) return;
        event.preventDefault();
        tabs[(i + step + tabs.length) % tabs.length].focus();
      });
    });
  }

  // Registered before chat.js starts the room (it starts on DOMContentLoaded, after
  // every script has run), so history is drawn with these bubbles from the start.
  if (window.RPChat) startChat(window.RPChat);

  document.addEventListener("DOMContentLoaded", () => {
    const sendForm = document.getElementById("packet-send-form");
    if (sendForm) startSend(sendForm);
    if (document.body.classList.contains("packet-open-page")) startOpenPage();
    if (document.body.classList.contains("packets-mine-page")) startRecords();
  });
})();
