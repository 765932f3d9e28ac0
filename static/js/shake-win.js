/* A won shake packet's result page: while the win is not yet credited the credit line
   reads "入账中…"; ask the API now and then and switch to "已存入零钱，可用于…" once the
   win is in change, without a reload (SPEC §4 Money notices). */
(function () {
  "use strict";

  const root = document.getElementById("shake-win");
  if (!root || root.dataset.credited === "true") return;
  const line = root.querySelector('[data-testid="credit-line"]');
  const EVERY_MS = 2000;
  const GIVE_UP_AFTER = 90; // about three minutes; a reload asks again

  let tries = 0;
  async function check() {
    tries += 1;
    const response = await RP.api("/api/shake/wins/" + root.dataset.win);
    if (response.ok && response.data && response.data.credited) {
      line.textContent = response.data.credit_line;
      root.dataset.credited = "true";
      return;
    }
    if (tries < GIVE_UP_AFTER) window.setTimeout(check, EVERY_MS);
  }
  window.setTimeout(check, EVERY_MS);
})();
