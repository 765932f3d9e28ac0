/* 我的红包 (the records page): the arrow keys move between its two tabs (收到的 / 发出的).
 * The year picker is a <select data-autosubmit>, which app.js submits on change.
 */
(function () {
  "use strict";

  function startRecords() {
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

  document.addEventListener("DOMContentLoaded", () => {
    if (document.body.classList.contains("packets-mine-page")) startRecords();
  });
})();
