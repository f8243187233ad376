// E-mail (Admin+): send a test mail; the outbox with statuses, errors and retry.
import * as api from "../api.js";
import { badge, dash, fill, h, say, table, time } from "../dom.js";

const KIND = { sent: "good", queued: "warn", failed: "bad" };
let box = null;

const view = {
  id: "email",
  title: "E-mail",
  admin: true,
  needs: "GET /api/email/outbox",
  interval: 5000,
  mount(root) {
    const field = (label, el) => h("label", label, el);
    const to = h("input", { name: "to", type: "email", required: true, multiple: true, autocomplete: "email" });
    const subject = h("input", { name: "subject", required: true, value: "pistack test mail" });
    const body = h("textarea", { name: "body", rows: "3" }, "This is a test mail from the pistack dashboard.");
    const result = h("p", { role: "status" });
    const form = h("form.card", h("h3", "Send a test mail"), field("To", to), field("Subject", subject), field("Body", body), h("button", { type: "submit" }, "Send"), result);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        const r = await api.api("POST", "/api/email/send", { to: to.value.split(",").map((s) => s.trim()), subject: subject.value, body: body.value });
        say(result, `Queued as ${r.id}.`, true);
        await view.refresh();
      } catch (e) {
        say(result, api.explain(e));
      }
    });
    box = h("div");
    root.append(form, h("h3", "Outbox"), box);
    box.addEventListener("click", async (ev) => {
      const b = ev.target.closest("button[data-retry]");
      if (!b) return;
      b.disabled = true;
      try {
        await api.api("POST", `/api/email/outbox/${encodeURIComponent(b.dataset.retry)}/retry`);
        await view.refresh();
      } catch (e) {
        say(view.status, api.explain(e));
        b.disabled = false;
      }
    });
  },
  unmount() {
    box = null;
  },
  async refresh() {
    const outbox = await api.api("GET", "/api/email/outbox");
    const canRetry = api.has("POST /api/email/outbox/{id}/retry");
    const rows = [...outbox].reverse().map((m) => [
      time(m.created_at),
      Array.isArray(m.to) ? m.to.join(", ") : dash(m.to),
      dash(m.subject),
      badge(m.status, KIND[m.status] || "muted"),
      String(m.attempts ?? 0),
      dash(m.last_error),
      time(m.sent_at),
      m.status === "failed" && canRetry ? h("button.small", { type: "button", "data-retry": m.id, "aria-label": `retry mail ${m.id}` }, "retry") : "",
    ]);
    fill(box, rows.length ? table("Outbox", ["Created", "To", "Subject", "Status", "Attempts", "Last error", "Sent", ""], rows) : h("p.hint", "The outbox is empty."));
  },
};

export default view;
