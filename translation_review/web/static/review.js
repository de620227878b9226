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

  // Drafts: what the reviewer types is kept on the server (a second after they pause), so that a lapsed
  // lease, a changed item or a closed tab never loses it. The lease is renewed while they are active.
  const form = document.getElementById("decide");
  const csrf = form?.querySelector('input[name="csrf_token"]')?.value;
  const item = form?.dataset.item;
  const api = (method, path, body) => fetch(`/api/items/${encodeURIComponent(item)}/${path}`, {
    method, headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}, credentials: "same-origin",
    body: body && JSON.stringify(body),
  });
  let draftTimer = null;
  const saveDraft = () => {
    const translation = {};
    for (const area of areas) {
      let node = translation;
      const parts = area.name.slice("field:".length).split(".");
      parts.forEach((part, i) => {
        if (i === parts.length - 1) { node[part] = area.value; return; }
        node[part] ??= {};
        node = node[part];
      });
    }
    const body = {version: Number(form.querySelector('input[name="version"]').value), translation: toArrays(translation)};
    const reason = document.getElementById("reason")?.value;
    if (reason) body.reason = reason;
    api("PUT", "draft", body).then((r) => { if (state && r.ok) state.dataset.saved = "draft saved"; });
  };
  // Turns are a list in the document: {"0": …, "1": …} → [ …, … ].
  const toArrays = (node) => {
    if (typeof node !== "object") return node;
    const keys = Object.keys(node);
    const mapped = Object.fromEntries(keys.map((k) => [k, toArrays(node[k])]));
    return keys.length && keys.every((k) => /^\d+$/.test(k)) ? keys.sort((a, b) => a - b).map((k) => mapped[k]) : mapped;
  };
  let active = false;
  if (form && areas.length) {
    const typed = () => { active = true; clearTimeout(draftTimer); draftTimer = setTimeout(saveDraft, 1000); };
    for (const area of areas) area.addEventListener("input", typed);
    document.getElementById("reason")?.addEventListener("input", typed);
    for (const type of ["keydown", "pointerdown", "scroll"]) document.addEventListener(type, () => { active = true; }, {passive: true});
  }

  const lease = document.querySelector(".lease[data-remaining]");
  if (lease) {
    let end = Date.now() + Number(lease.dataset.remaining) * 1000;
    setInterval(() => {
      if (!active || document.hidden) return;
      active = false;
      api("POST", "renew").then((r) => r.ok ? r.json() : null).then((answer) => {
        if (answer) end = Date.now() + answer.seconds_left * 1000;
      });
    }, 60_000);
    const shown = lease.querySelector(".countdown");
    const tick = () => {
      const left = Math.max(0, Math.round((end - Date.now()) / 1000));
      shown.textContent = left ? `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}` : "expired";
      lease.classList.toggle("low", left < 120);
      setTimeout(tick, 1000);
    };
    tick();
  }
})();
