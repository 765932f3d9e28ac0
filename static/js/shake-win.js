/* A won shake packet's result page: while the win is not yet credited the credit line
   reads "入账中…"; it switches to "已存入零钱，可用于…" once the win is in change, without
   a reload (SPEC §4 Money notices): on `wallet.credited` for this win over the user's own
   socket (RP.live, notices.js), after a reconnect, and by a slow poll as the net. */
(function () {
  "use strict";

  const root = document.getElementById("shake-win");
  if (!root || root.dataset.credited === "true") return;
  const line = root.querySelector('[data-testid="credit-line"]');
  const EVERY_MS = 5000;
  const GIVE_UP_AFTER = 36; // about three minutes; a reload asks again

  let tries = 0;
  async function check() {
    if (root.dataset.credited === "true") return;
    const response = await RP.api("/api/shake/wins/" + root.dataset.win);
    if (response.ok && response.data && response.data.credited) {
      line.textContent = response.data.credit_line;
      root.dataset.credited = "true";
    }
  }
  function poll() {
    tries += 1;
    check().finally(function () {
      if (root.dataset.credited !== "true" && tries < GIVE_UP_AFTER) window.setTimeout(poll, EVERY_MS);
    });
  }
  if (RP.live) {
    RP.live.on("wallet.credited", function (event) {
      if (String(event.win_id) === root.dataset.win) check();
    });
    RP.live.on("socket.open", function (event) { if (event.reconnect) check(); });
  }
  window.setTimeout(poll, EVERY_MS);
})();
