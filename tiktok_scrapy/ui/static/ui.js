// The UI's only script: live checks of the query builder and live crawl progress.
// Plain JavaScript, no build step, nothing loaded from elsewhere.
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function setupBuilder(form) {
  const spiderKeys = JSON.parse(form.dataset.spiderKeys);
  const spider = form.querySelector("#f-spider");
  const status = document.getElementById("status");
  let timer = null;
  let sequence = 0;

  function showFields() {
    const keys = new Set(spiderKeys[spider.value] || []);
    form.querySelectorAll("[data-key]").forEach((el) => {
      el.hidden = !keys.has(el.dataset.key);
    });
    form.querySelectorAll("fieldset").forEach((set) => {
      const fields = set.querySelectorAll("[data-key]");
      set.hidden = fields.length > 0 && [...fields].every((el) => el.hidden);
    });
  }

  function showResult(result) {
    form.querySelectorAll("[data-error-for]").forEach((el) => {
      el.textContent = "";
    });
    form.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
    for (const [key, message] of Object.entries(result.errors || {})) {
      const target = form.querySelector(`[data-error-for="${key}"]`);
      const box = target && !target.closest("[hidden]") ? target : form.querySelector('[data-error-for=""]');
      box.textContent = message;
      const input = form.querySelector(`[name="${key}"]`);
      if (input) input.classList.add("invalid");
    }
    document.getElementById("query-json").textContent = result.query || "";
    document.getElementById("config-yaml").textContent = result.yaml || "";
    const warnings = document.getElementById("warnings");
    warnings.replaceChildren(
      ...(result.warnings || []).map((w) => {
        const li = document.createElement("li");
        li.textContent = w;
        return li;
      }),
    );
    status.textContent = result.ok ? "✓ valid" : "";
    status.className = result.ok ? "ok" : "";
  }

  async function check() {
    const mine = ++sequence;
    const data = new FormData(form);
    status.textContent = "checking…";
    try {
      const response = await fetch("/validate", {
        method: "POST",
        body: data,
        headers: { "X-CSRF-Token": csrfToken() },
        credentials: "same-origin",
      });
      if (mine !== sequence) return; // a newer check is on its way
      if (!response.ok) {
        status.textContent = `check failed (${response.status}): reload the page`;
        return;
      }
      showResult(await response.json());
    } catch (error) {
      status.textContent = "the UI server did not answer";
    }
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(check, 300);
  }

  spider.addEventListener("change", () => {
    showFields();
    check();
  });
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  showFields();
}

function setupCrawl(root) {
  const url = root.dataset.progressUrl;
  const text = (id, value) => {
    const el = document.getElementById(id);
    if (el) el.textContent = value === null || value === undefined ? "–" : String(value);
  };
  async function poll() {
    let data;
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) return setTimeout(poll, 3000);
      data = await response.json();
    } catch (error) {
      return setTimeout(poll, 3000);
    }
    text("p-status", data.status);
    ["done", "chains", "pages", "items", "requests", "elapsed", "quota_left"].forEach((k) => text(`p-${k}`, data[k]));
    text("p-eta", data.eta_text || (data.eta === null || data.eta === undefined ? null : `${data.eta} s`));
    text("p-failed", data.failed || 0);
    const quota = Object.entries(data.quota || {}).map(([f, n]) => `${f}: ${n}`).join(", ");
    text("p-quota", quota ? `(${quota})` : "");
    text("p-verdict", data.verdict);
    document.getElementById("p-verdict").className = `verdict ${data.verdict || ""}`;
    let reason = data.reason && data.reason !== data.verdict ? data.reason : "";
    if (data.meaning) reason = reason ? `${reason}: ${data.meaning}` : data.meaning;
    if (reason && data.exit_status !== null && data.exit_status !== undefined) reason += ` (exit status ${data.exit_status})`;
    if (!reason && data.returncode !== null && data.returncode !== undefined) {
      reason = `the crawl ended without a verdict (exit status ${data.returncode}): see the log`;
    }
    text("p-reason", reason);
    text("p-lines", (data.lines || []).join("\n"));
    document.getElementById("stop").disabled = data.status !== "running";
    document.getElementById("resume").disabled =
      ["running", "stopping"].includes(data.status) || data.verdict === "complete";
    const finished = data.status === "ended";
    if (finished && (data.report || (data.files || []).length) && !root.dataset.reloaded) {
      // The result links are drawn by the server: reload once the crawl has ended.
      if (document.querySelectorAll(".csv-link").length < (data.files || []).length || (data.report && document.getElementById("report-link").hidden)) {
        root.dataset.reloaded = "1";
        window.location.reload();
        return;
      }
    }
    if (!finished) setTimeout(poll, 1000);
  }
  poll();
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("builder");
  if (form) setupBuilder(form);
  const crawl = document.getElementById("crawl");
  if (crawl) setupCrawl(crawl);
  document.querySelectorAll("[data-back]").forEach((link) =>
    link.addEventListener("click", (event) => {
      if (history.length > 1) {
        event.preventDefault();
        history.back();
      }
    }),
  );
});
