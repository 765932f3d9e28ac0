/* 摇一摇: detect a shake (DeviceMotion on phones, the button on desktops), ask the API,
   show the won packet or "没摇到，再摇一次", and refresh the remaining count every few shakes. */
(function () {
  "use strict";

  const root = document.getElementById("shake");
  const button = document.getElementById("shake-button");
  if (!root || !button) return;

  const t = RP.gettext;
  const campaignId = root.dataset.campaign;
  const remainingEvery = parseInt(root.dataset.remainingEvery, 10) || 5;
  const result = document.getElementById("shake-result");
  const remaining = document.getElementById("remaining");
  const motionButton = document.getElementById("motion-enable");

  // A jolt of this much (m/s², summed over the axes) between two readings is a shake.
  const MOTION_THRESHOLD = 25;
  const MOTION_GAP_MS = 1200;

  let shakes = 0;
  let inFlight = false;
  let over = false;

  const MISS_TEXT = {
    no_luck: t("没摇到，再摇一次"),
    busy: t("没摇到，再摇一次"),
    sold_out: t("红包已被摇完了"),
    limit_reached: t("你已经摇到过红包了，把机会留给别人吧"),
  };

  function showWin(data) {
    const sponsor = data.sponsor ? data.sponsor.display_name || data.sponsor.username : "";
    result.innerHTML =
      '<div class="shake-packet" data-testid="shake-win">' +
      '<p class="shake-packet-from">' + RP.escapeHtml(t("%s的红包").replace("%s", sponsor)) + "</p>" +
      '<p class="shake-packet-amount money">¥' + RP.yuan(data.amount_fen) + "</p>" +
      '<p class="shake-packet-greeting">' + RP.escapeHtml(data.greeting || "") + "</p>" +
      // Credited asynchronously: the result page says when it is in change.
      '<p class="shake-packet-note" data-testid="shake-credit">' + RP.escapeHtml(t("入账中…")) + "</p>" +
      '<a class="shake-packet-link" data-testid="shake-win-link" href="/shake/wins/' +
      encodeURIComponent(data.win_id) + '/">' + RP.escapeHtml(t("查看红包详情")) + "</a>" +
      "</div>";
    if (navigator.vibrate) navigator.vibrate([80, 60, 80]);
  }

  function showText(text, className) {
    result.innerHTML = '<p class="' + className + '" data-testid="shake-miss">' + RP.escapeHtml(text) + "</p>";
  }

  async function refreshRemaining() {
    const response = await RP.api("/api/shake/campaigns/" + campaignId + "/remaining");
    if (response.ok && response.data) remaining.textContent = String(response.data.remaining);
  }

  async function shake() {
    if (inFlight || over) return;
    inFlight = true;
    button.disabled = true;
    root.classList.remove("shaking");
    void root.offsetWidth; // restart the hand's animation
    root.classList.add("shaking");
    const response = await RP.api("/api/shake/campaigns/" + campaignId + "/shake", { method: "POST" });
    shakes += 1;
    if (response.ok && response.data && response.data.won) {
      showWin(response.data);
    } else if (response.ok && response.data) {
      showText(MISS_TEXT[response.data.reason] || MISS_TEXT.no_luck, "shake-miss");
    } else if (response.status === 410 || response.status === 404) {
      over = true;
      showText((response.data && response.data.message) || t("活动已结束"), "shake-over");
      remaining.textContent = "0";
    } else {
      // Anything else (network, sign-in expired) reads as a miss: shaking again is the cure.
      showText(MISS_TEXT.no_luck, "shake-miss");
    }
    if (shakes % remainingEvery === 0) refreshRemaining();
    inFlight = false;
    button.disabled = over;
  }

  // --- DeviceMotion: phones -----------------------------------------------------------
  let last = null;
  let lastShakeAt = 0;

  function onMotion(event) {
    const a = event.accelerationIncludingGravity || event.acceleration;
    if (!a || a.x === null) return;
    if (last) {
      const jolt = Math.abs(a.x - last.x) + Math.abs(a.y - last.y) + Math.abs(a.z - last.z);
      const now = Date.now();
      if (jolt > MOTION_THRESHOLD && now - lastShakeAt > MOTION_GAP_MS) {
        lastShakeAt = now;
        shake();
      }
    }
    last = { x: a.x, y: a.y, z: a.z };
  }

  function listen() {
    window.addEventListener("devicemotion", onMotion);
  }

  let permissionAsked = false;
  async function askMotionPermission() {
    // iOS 13+: motion events only after the user grants them, asked from a tap.
    if (permissionAsked) return;
    permissionAsked = true;
    try {
      const state = await DeviceMotionEvent.requestPermission();
      if (state === "granted") {
        listen();
        if (motionButton) motionButton.hidden = true;
      }
    } catch (err) {
      permissionAsked = false;
    }
  }

  const touch = "ontouchstart" in window || navigator.maxTouchPoints > 0;
  if (touch && typeof window.DeviceMotionEvent !== "undefined") {
    if (typeof DeviceMotionEvent.requestPermission === "function") {
      if (motionButton) {
        motionButton.hidden = false;
        motionButton.addEventListener("click", askMotionPermission);
      }
      button.addEventListener("click", askMotionPermission);
    } else {
      listen();
    }
  }

  button.addEventListener("click", shake);
})();
