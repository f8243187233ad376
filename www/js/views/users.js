// Users: everyone can change their own password and log out everywhere; Admin+
// lists and creates users (an Admin only level User), Root also changes levels
// and deletes. What each level may do is the daemon's rule; a refusal is shown.
import * as api from "../api.js";
import { fill, h, say, time } from "../dom.js";

const LEVELS = ["User", "Admin", "Root"];
let box = null;
let status = null;

function account() {
  const me = api.user();
  const current = h("input", { type: "password", name: "current_password", required: true, autocomplete: "current-password" });
  const next = h("input", { type: "password", name: "password", required: true, minlength: "8", autocomplete: "new-password" });
  const result = h("p", { role: "status" });
  const form = h(
    "form.card",
    { id: "own-password" },
    h("h3", `Your account: ${me.name} (${me.level})`),
    h("label", "Current password", current),
    h("label", "New password (8 or more characters)", next),
    h("button", { type: "submit" }, "Change my password"),
    result,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api.api("PATCH", `/api/auth/users/${encodeURIComponent(me.id)}`, { password: next.value, current_password: current.value });
      form.reset();
      api.endSession("Password changed: every session of yours has ended. Log in with the new password.");
    } catch (e) {
      say(result, api.explain(e));
    }
  });
  const everywhere = h("button", { type: "button", id: "logout-all" }, "Log out everywhere");
  everywhere.addEventListener("click", async () => {
    try {
      const n = await api.logoutEverywhere();
      api.endSession(`Logged out everywhere (${n} sessions ended).`);
    } catch (e) {
      say(result, api.explain(e));
    }
  });
  return h("div.cards", form, h("div.card", h("h3", "Sessions"), h("p", "End every login of yours, on every device."), everywhere));
}

function createForm() {
  const levels = api.isRoot() ? LEVELS : ["User"];
  const name = h("input", { name: "name", required: true, pattern: "[A-Za-z0-9_.\\-]{1,32}", autocomplete: "off" });
  const password = h("input", { name: "password", type: "password", required: true, minlength: "8", autocomplete: "new-password" });
  const level = h("select", { name: "level" }, levels.map((l) => h("option", { value: l }, l)));
  const result = h("p", { role: "status" });
  const form = h(
    "form.card",
    { id: "create-user" },
    h("h3", "New user"),
    h("label", "Name", name),
    h("label", "Password (8 or more characters)", password),
    h("label", "Level", level),
    h("button", { type: "submit" }, "Create"),
    result,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const u = await api.api("POST", "/api/auth/users", { name: name.value, password: password.value, level: level.value });
      form.reset();
      say(result, `Created ${u.name} (${u.level}).`, true);
      await view.refresh();
    } catch (e) {
      say(result, api.explain(e));
    }
  });
  return form;
}

function row(u) {
  const me = api.user();
  const root = api.isRoot();
  const cells = [h("td", h("strong", u.name), u.id === me.id ? " (you)" : ""), h("td"), h("td", time(u.created_at)), h("td.actions")];
  if (root && u.id !== me.id) {
    const sel = h("select", { "aria-label": `level of ${u.name}` }, LEVELS.map((l) => h("option", { value: l, selected: l === u.level }, l)));
    sel.addEventListener("change", () => change(u, { level: sel.value }));
    cells[1].append(sel);
  } else {
    cells[1].append(u.level);
  }
  if (u.id !== me.id && (root || u.level === "User")) {
    const pw = h("input.pw", { type: "password", minlength: "8", autocomplete: "new-password", "aria-label": `new password for ${u.name}` });
    const set = h("button.small", { type: "button" }, "set password");
    set.addEventListener("click", () => change(u, { password: pw.value }));
    cells[3].append(pw, set);
  }
  if (root && u.id !== me.id) {
    const del = h("button.small.danger", { type: "button", "aria-label": `delete ${u.name}` }, "delete");
    let armed = 0;
    del.addEventListener("click", async () => {
      if (!armed) {
        del.textContent = "really delete?";
        armed = setTimeout(() => ((armed = 0), (del.textContent = "delete")), 5000);
        return;
      }
      clearTimeout(armed);
      try {
        await api.api("DELETE", `/api/auth/users/${encodeURIComponent(u.id)}`);
        say(status, `Deleted ${u.name}.`, true);
        await view.refresh();
      } catch (e) {
        say(status, api.explain(e));
      }
    });
    cells[3].append(del);
  }
  return h("tr", cells);
}

async function change(u, patch) {
  try {
    const r = await api.api("PATCH", `/api/auth/users/${encodeURIComponent(u.id)}`, patch);
    say(status, `${r.name}: ${patch.level ? `level ${r.level}` : "password changed"}.`, true);
    await view.refresh();
  } catch (e) {
    say(status, `${u.name}: ${api.explain(e)}`);
  }
}

const view = {
  id: "users",
  title: "Users",
  mount(root) {
    status = h("p", { role: "status" });
    box = h("div");
    root.append(account());
    if (api.isAdmin()) root.append(h("h3", "All users"), status, box, createForm());
  },
  unmount() {
    box = null;
  },
  async refresh() {
    if (!api.isAdmin()) return;
    const users = await api.api("GET", "/api/auth/users");
    fill(
      box,
      h(
        "div.scroll",
        { tabindex: "0" },
        h("table", { id: "users-table" }, h("caption.sr", "Users"), h("thead", h("tr", ["Name", "Level", "Created", "Actions"].map((c) => h("th", { scope: "col" }, c)))), h("tbody", users.map(row))),
      ),
    );
  },
};

export default view;
