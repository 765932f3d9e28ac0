/* The send page's pay sheet (塞钱进红包 → how to pay): 零钱 or a card, the PIN pad
 * (pinpad.js), the payment through the API with one Idempotency-Key per attempt, and what
 * a refusal means (a field error goes back to the form, 余额不足 points to a card, a wrong
 * PIN shows in the pad on the next try).
 *
 * RP.paySheet(sheet, {config, returnFocus, onFieldErrors}) → {open(state)}, used by
 * redpacket-send.js: `config` is the page's packet-send-config, `returnFocus` gets the
 * focus back when the sheet closes, `onFieldErrors(fields)` shows the server's field
 * errors on the form; open(state) takes the form's {v, errors, fen}.
 *
 * The sheet knows the balance (SPEC §4 Paying): before any PIN it picks what can pay —
 * 零钱 if it covers the packet, else the newest bound card (rules.pay_card_choice) — and
 * flags short change; with no card it offers 添加银行卡, a submit of the send form that
 * keeps the packet as typed while the card is bound (redpacket/packets/drafts.py).
 */
(function () {
  "use strict";

  const RP = window.RP;
  const t = RP.gettext;

  function paySheet(sheet, options) {
    const config = options.config;
    const direct = config.direct;
    const returnFocus = options.returnFocus;
    const confirm = sheet.querySelector("[data-pay-confirm]");
    const sheetError = sheet.querySelector("[data-pay-error]");
    const addCard = sheet.querySelector("[data-pay-add-card]");
    const amountText = sheet.querySelector("[data-pay-amount]");
    const shortFlag = sheet.querySelector("[data-pay-short]");
    const balanceChoice = sheet.querySelector('input[name="sheet_pay_with"][value="balance"]');
    const cardChoices = Array.from(sheet.querySelectorAll('input[name="sheet_pay_with"]:not([value="balance"])'));
    const payTexts = config.texts_pay;
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

    /** What can pay `fen`: 零钱 if enough, else the newest card (the one just bound),
     * as rules.pay_card_choice. Returns whether anything can. */
    function choosePayment(fen) {
      const short = fen > config.balance_fen;
      balanceChoice.disabled = short;
      shortFlag.hidden = !short;
      addCard.hidden = !short;
      if (!short) { balanceChoice.checked = true; return true; }
      balanceChoice.checked = false;
      if (!cardChoices.length) return false;
      if (!cardChoices.some((card) => card.checked)) {
        cardChoices.reduce((a, b) => (Number(b.value) > Number(a.value) ? b : a)).checked = true;
      }
      return true;
    }

    function openSheet(state) {
      if (!sheet.hidden || paying) return; // a second tap while it is open does nothing
      pending = state;
      attemptKey = RP.newKey();
      pinError = "";
      amountText.textContent = RP.yuan(state.fen);
      const canPay = choosePayment(state.fen);
      if (config.pin_locked) setSheetError(config.pin_locked_text);
      else setSheetError(canPay ? "" : payTexts.short_add_card);
      confirm.disabled = Boolean(config.pin_locked) || !canPay;
      openedAt = Date.now();
      sheet.hidden = false;
      releaseKeys = RP.trapKeys(sheet, closeSheet);
      (confirm.disabled && !addCard.hidden ? addCard.querySelector("button") : confirm).focus();
    }

    function closeSheet() {
      if (paying) return;
      sheet.hidden = true;
      if (releaseKeys) releaseKeys();
      returnFocus.focus();
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
      if (v.kind === "exclusive") body.to_user_id = v.toUser;
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
      if (res.status === 400 && data.fields) {
        sheet.hidden = true;
        if (releaseKeys) releaseKeys();
        options.onFieldErrors(data.fields);
        return;
      }
      const message = data.message || t("支付失败，请稍后再试");
      setSheetError(message);
      if (data.code === "insufficient_balance") {
        // The change went down since the page was drawn (another tab paid): now it is short.
        config.balance_fen = 0;
        confirm.disabled = !choosePayment(pending.fen);
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

    return { open: openSheet };
  }

  RP.paySheet = paySheet;
})();
