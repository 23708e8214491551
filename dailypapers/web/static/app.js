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
