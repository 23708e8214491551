// Upvote without a page reload. Without JavaScript the same forms post and redirect back.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.matches("form.votes")) return;
  event.preventDefault();
  const csrf = document.body.dataset.csrf;
  if (!csrf) { window.location = "/login?next=" + encodeURIComponent(location.pathname); return; }
  const voted = form.classList.contains("voted");
  const response = await fetch("/api/papers/" + form.dataset.paper + "/upvote", {
    method: voted ? "DELETE" : "POST",
    headers: { "X-CSRF-Token": csrf, "Accept": "application/json" },
    credentials: "same-origin",
  });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    alert(body.error || "Could not record the vote.");
    return;
  }
  const result = await response.json();
  form.classList.toggle("voted", result.voted);
  form.querySelector(".count").textContent = result.upvotes;
  form.querySelector("input[name=action]").value = result.voted ? "down" : "up";
  form.querySelector("button").setAttribute("aria-pressed", String(result.voted));
});

// Follow and unfollow without a page reload (JSON twins under /api/me/follows). Every
// control for the same thing on the page changes with it. Without JavaScript the same forms
// post and redirect back.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.matches("form.follow")) return;
  event.preventDefault();
  const csrf = document.body.dataset.csrf;
  if (!csrf) { form.submit(); return; }
  const id = form.dataset.followId;
  const response = await fetch(id ? "/api/me/follows/" + id : "/api/me/follows", {
    method: id ? "DELETE" : "POST",
    headers: { "X-CSRF-Token": csrf, "Accept": "application/json", "Content-Type": "application/json" },
    credentials: "same-origin",
    body: id ? null : JSON.stringify({ kind: form.dataset.kind, value: form.dataset.value }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) { alert(body.error || "Could not change the follow."); return; }
  const following = !id;
  const selector = "form.follow[data-kind='" + CSS.escape(form.dataset.kind) + "'][data-value='" + CSS.escape(form.dataset.value) + "']";
  for (const other of document.querySelectorAll(selector)) {
    const button = other.querySelector("button");
    other.classList.toggle("on", following);
    if (following) other.dataset.followId = body.id; else delete other.dataset.followId;
    other.action = following ? "/follows/" + body.id + "/delete" : "/follows";
    button.textContent = following ? button.dataset.on : button.dataset.off;
    button.setAttribute("aria-pressed", String(following));
    const label = (following ? "Stop following " : "Follow ") + button.dataset.shown;
    button.setAttribute("aria-label", label);
    button.title = label;
  }
});

// Save to the library (or remove) without a page reload; without JavaScript the same forms
// post and redirect back. Visitors get a link to log in instead of a form.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.matches("form.library")) return;
  event.preventDefault();
  const saved = form.classList.contains("saved");
  const paper = form.dataset.save;
  const response = await fetch("/api/me/library" + (saved ? "/" + paper : ""), {
    method: saved ? "DELETE" : "POST",
    headers: {
      "X-CSRF-Token": document.body.dataset.csrf || "",
      "Accept": "application/json",
      "Content-Type": "application/json",
    },
    credentials: "same-origin",
    body: saved ? null : JSON.stringify({ paper_id: paper }),
  });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    alert(body.error || "Could not change your library.");
    return;
  }
  const result = await response.json();
  const button = form.querySelector("button");
  form.classList.toggle("saved", result.saved);
  form.querySelector("input[name=action]").value = result.saved ? "remove" : "save";
  button.setAttribute("aria-pressed", String(result.saved));
  button.title = result.saved ? "In your library: remove it" : "Save to your library";
  button.querySelector("[aria-hidden]").textContent = result.saved ? "★" : "☆";
  button.querySelector(".label").textContent = result.saved ? "Saved" : "Save";
});
