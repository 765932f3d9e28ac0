/* The send page (发红包): the live total, the kind switch (拼手气 ↔ 普通 ↔ 专属, keeping
 * what was typed), the inline errors, then the pay sheet (redpacket-pay.js) on 塞钱进红包.
 *
 * The checks mirror `rules.send_errors` in the same order, with the limits and the texts
 * the server hands over in the page's packet-send-config: nothing here decides a product
 * rule on its own.
 */
(function () {
  "use strict";

  const RP = window.RP;
  const esc = RP.escapeHtml;

  function paragraphs(texts) {
    return texts.map((text) => "<p>" + esc(text) + "</p>").join("");
  }

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
    const toUser = input("to_user_id");
    const kindInput = input("kind");
    const errorBox = document.getElementById("send-errors");
    const totalText = document.getElementById("send-total");
    const submit = document.getElementById("send-submit");
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

    // Normal and exclusive packets have a fixed share (单个金额 / 金额).
    const fixedShare = (k) => k === "normal" || k === "exclusive";

    function values() {
      // An exclusive packet is one share: its form has no 红包个数 (the server says 1 too).
      const rawCount = count && kind !== "exclusive" ? count.value.trim() : "1";
      const rawTo = toUser ? toUser.value.trim() : "";
      return {
        kind,
        count: /^\d+$/.test(rawCount) ? parseInt(rawCount, 10) : null,
        countEmpty: !rawCount,
        toUser: /^\d+$/.test(rawTo) ? parseInt(rawTo, 10) : null,
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
      else if (v.kind === "exclusive" && v.count !== 1) e.count = T.count_exclusive;
      else if (!direct && v.count > config.member_count) e.count = T.count_members;
      // The picker lists only the group's other members: "not a member" / "yourself"
      // cannot be picked here, the server still checks them.
      if (v.kind === "exclusive" && !direct && v.toUser === null) e.to_user_id = T.to_user_required;
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
      return v.share.fen * (direct || v.kind === "exclusive" ? 1 : (v.count || 0));
    }

    /** Which errors to show: not "please fill in" for a field nobody has typed in yet. */
    function visible(errors, v) {
      if (showAll) return errors;
      const shown = {};
      for (const [name, text] of Object.entries(errors)) {
        if (name === "count" && v.countEmpty) continue;
        if (name === "total_fen" && v.total.empty) continue;
        if (name === "share_fen" && v.share.empty) continue;
        if (name === "to_user_id" && v.toUser === null) continue;
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
        const field = cell.querySelector("input, select");
        if (field) field.setAttribute("aria-invalid", shown[name] ? "true" : "false");
      });
      const texts = Object.values(shown);
      errorBox.hidden = texts.length === 0;
      errorBox.innerHTML = paragraphs(texts);
      return { v, errors, fen };
    }

    function setKind(next) {
      kind = next;
      kindInput.value = next;
      form.dataset.kind = next;
      form.querySelectorAll("[data-for-kind]").forEach((el) => {
        el.hidden = !el.dataset.forKind.split(" ").includes(next);
      });
    }

    /** "改为普通红包 / 改为拼手气红包 / 改为专属红包" keeps what was typed
     * (rules.switch_kind; between normal and exclusive the share stays as it is). */
    function switchTo(next) {
      const previous = kind;
      const rawCount = count ? count.value.trim() : "";
      const n = /^\d+$/.test(rawCount) && parseInt(rawCount, 10) >= 1 ? parseInt(rawCount, 10) : null;
      const leaving = amountOf(fixedShare(previous) ? share : total);
      const arriving = fixedShare(next) ? share : total;
      if (leaving.fen !== null && fixedShare(previous) !== fixedShare(next)) {
        const fen = n === null ? leaving.fen : (fixedShare(next) ? Math.floor(leaving.fen / n) : leaving.fen * n);
        arriving.value = RP.yuan(fen);
      } else {
        arriving.value = ""; // nothing to carry over: no stale amount from before
      }
      setKind(next);
      keepServerErrors = false;
      render();
      const buttons = Array.from(form.querySelectorAll("[data-switch]")).filter((b) => !b.closest("[hidden]"));
      const back = buttons.find((b) => b.dataset.switch === previous) || buttons[0];
      if (back) back.focus();
      if (next === "exclusive" && toUser && !toUser.value) toUser.focus();
    }

    const sheet = RP.paySheet(document.getElementById("pay-sheet"), {
      config,
      returnFocus: submit,
      onFieldErrors(fields) { // the server refused a field: back to the form
        errorBox.hidden = false;
        errorBox.innerHTML = paragraphs(Object.values(fields));
        submit.focus();
      },
    });

    form.querySelectorAll("[data-switch]").forEach((button) => {
      button.type = "button"; // a plain button here: the switch never posts the form
      button.addEventListener("click", (event) => {
        event.preventDefault();
        switchTo(button.dataset.switch);
      });
    });
    form.addEventListener("input", () => { keepServerErrors = false; render(); });
    form.addEventListener("submit", (event) => {
      // 添加银行卡 (in the pay sheet) posts the form as it is: the server keeps the draft.
      if (event.submitter && event.submitter.name === "add_card") return;
      event.preventDefault();
      keepServerErrors = false;
      const state = render();
      if (Object.keys(state.errors).length) {
        showAll = true;
        render();
        const bad = form.querySelector("[data-cell].invalid input, [data-cell].invalid select");
        if (bad) bad.focus();
        return;
      }
      sheet.open(state);
    });

    setKind(kind);
    const state = render();
    // Back from 添加银行卡: the packet as typed, straight back on the sheet (SPEC §4).
    if (config.resume && !Object.keys(state.errors).length) sheet.open(state);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const sendForm = document.getElementById("packet-send-form");
    if (sendForm) startSend(sendForm);
  });
})();
