// Keyboard shortcuts, the lease countdown and edit highlighting. No framework, no build step.
(() => {
  const typing = (el) => el && (el.tagName === "TEXTAREA" || el.tagName === "INPUT" || el.tagName === "SELECT");

  document.addEventListener("keydown", (event) => {
    const form = document.getElementById("decide");
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && form) {
      event.preventDefault();
      form.querySelector('button[value="approve"]')?.click();
      return;
    }
    if (event.key === "Escape" && typing(document.activeElement)) { document.activeElement.blur(); return; }
    if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key.toLowerCase();
    if (key === "r" && document.getElementById("reason")) {
      event.preventDefault();
      document.getElementById("reason").focus();
      return;
    }
    const button = document.querySelector(`button[data-key="${key}"]`);
    if (button) { event.preventDefault(); button.click(); }
  });

  // Enter in the reason field rejects (rather than submitting the form's first button, approve).
  document.getElementById("reason")?.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      document.querySelector('button[value="reject"]').click();
    }
  });

  // Changed fields are marked, and the bar says what Approve will save.
  const areas = [...document.querySelectorAll("#decide textarea:not([readonly])")];
  const state = document.getElementById("edit-state");
  for (const area of areas) {
    const original = area.value;
    area.addEventListener("input", () => {
      area.classList.toggle("changed", area.value !== original);
      const changed = areas.filter((a) => a.classList.contains("changed")).length;
      if (state) {
        state.textContent = changed ? `${changed} field${changed > 1 ? "s" : ""} edited: approve saves an edit.`
                                    : "Unchanged: approves the machine translation.";
        state.classList.toggle("edited", changed > 0);
      }
    });
  }

  const lease = document.querySelector(".lease[data-remaining]");
  if (lease) {
    const end = Date.now() + Number(lease.dataset.remaining) * 1000;
    const shown = lease.querySelector(".countdown");
    const tick = () => {
      const left = Math.max(0, Math.round((end - Date.now()) / 1000));
      shown.textContent = left ? `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}` : "expired";
      lease.classList.toggle("low", left < 120);
      if (left) setTimeout(tick, 1000);
    };
    tick();
  }
})();
