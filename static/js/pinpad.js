/* The 6-digit payment PIN pad (支付密码). RP.pinPad({title, amountText}) → Promise<pin|null>.
   Forms with an <input data-pinpad> ask for the PIN in the pad when submitted; without
   JavaScript the plain input works. An amount input with data-balance-fen (a payment from
   change) over the balance gets its field error instead of the pad. */
(function () {
  "use strict";
  const t = (s) => window.RP.gettext(s);

  function pinPad(options) {
    const opts = options || {};
    return new Promise((resolve) => {
      let digits = "";
      const sheet = document.createElement("div");
      sheet.className = "sheet-backdrop";
      sheet.innerHTML =
        '<div class="sheet pinpad" role="dialog" aria-modal="true" aria-labelledby="pinpad-title">' +
        '<button type="button" class="sheet-close" aria-label="' + t("关闭") + '">×</button>' +
        '<h2 id="pinpad-title" class="sheet-title"></h2>' +
        '<p class="pinpad-amount money"></p>' +
        '<div class="pin-boxes" aria-live="polite" aria-label="' + t("已输入位数") + '"></div>' +
        '<p class="pinpad-error" role="alert"></p>' +
        '<div class="keypad" role="group" aria-label="' + t("数字键盘") + '"></div>' +
        "</div>";
      sheet.querySelector(".sheet-title").textContent = opts.title || t("请输入支付密码");
      sheet.querySelector(".pinpad-amount").textContent = opts.amountText || "";
      sheet.querySelector(".pinpad-error").textContent = opts.error || "";
      const boxes = sheet.querySelector(".pin-boxes");
      for (let i = 0; i < 6; i++) boxes.appendChild(document.createElement("span"));
      const keypad = sheet.querySelector(".keypad");
      ["1", "2", "3", "4", "5", "6", "7", "8", "9", "", "0", "⌫"].forEach((key) => {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = key;
        if (!key) { button.disabled = true; button.className = "blank"; button.setAttribute("aria-hidden", "true"); }
        if (key === "⌫") button.setAttribute("aria-label", t("删除"));
        button.addEventListener("click", () => press(key));
        keypad.appendChild(button);
      });

      function render() {
        boxes.querySelectorAll("span").forEach((box, i) => box.classList.toggle("filled", i < digits.length));
        boxes.setAttribute("aria-valuenow", String(digits.length));
      }
      function close(value) {
        document.removeEventListener("keydown", onKey);
        sheet.remove();
        resolve(value);
      }
      function press(key) {
        if (key === "⌫") digits = digits.slice(0, -1);
        else if (/^\d$/.test(key) && digits.length < 6) digits += key;
        render();
        if (digits.length === 6) setTimeout(() => close(digits), 80);
      }
      function onKey(event) {
        if (/^\d$/.test(event.key)) press(event.key);
        else if (event.key === "Backspace") press("⌫");
        else if (event.key === "Escape") close(null);
      }
      sheet.querySelector(".sheet-close").addEventListener("click", () => close(null));
      sheet.addEventListener("click", (event) => { if (event.target === sheet) close(null); });
      document.addEventListener("keydown", onKey);
      document.body.appendChild(sheet);
      render();
      keypad.querySelector("button").focus();
    });
  }

  /** A field error like partials/field.html draws it, under `input`. */
  function showFieldError(input, text) {
    const field = input.closest(".field");
    if (!field) return;
    let error = field.querySelector(".field-error");
    if (!error) {
      error = document.createElement("p");
      error.className = "field-error";
      error.setAttribute("role", "alert");
      field.appendChild(error);
    }
    error.textContent = text;
    field.classList.add("has-error");
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }

  function enhanceForms() {
    document.querySelectorAll("form").forEach((form) => {
      const input = form.querySelector("input[data-pinpad]");
      if (!input) return;
      const field = input.closest(".field");
      const hadError = field && field.classList.contains("has-error");
      if (field && !hadError) field.hidden = true;
      const amount = form.querySelector("[name=amount_fen]");
      form.addEventListener("submit", async (event) => {
        if (/^\d{6}$/.test(input.value)) return;
        event.preventDefault();
        // A payment from change says the amount is over the balance before asking the PIN.
        if (amount && amount.dataset.balanceFen !== undefined) {
          const fen = window.RP.parseFen(amount.value);
          if (fen !== null && fen > Number(amount.dataset.balanceFen)) {
            showFieldError(amount, amount.dataset.balanceError);
            return;
          }
        }
        const pin = await pinPad({ amountText: amount && amount.value ? "¥" + amount.value : "" });
        if (pin) { input.value = pin; form.submit(); }
      });
    });
  }

  window.RP.pinPad = pinPad;
  document.addEventListener("DOMContentLoaded", enhanceForms);
})();
