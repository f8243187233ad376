// Building the page from data with DOM calls only: text goes in as text nodes,
// never as HTML, so a program's description or a log line cannot become markup.

const SVG = "http://www.w3.org/2000/svg";

/** h("td.num", {title: "x"}, "text", child) — attributes, then children. */
export function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
  } else if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k in el && typeof v !== "string") el[k] = v;
      else el.setAttribute(k, v === true ? "" : v);
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replace the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);

export function bytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(n < 10 ? 1 : 0) : n} ${units[i]}`;
}

export function duration(s) {
  if (s === null || s === undefined) return "—";
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${mm}m`;
  if (mm) return `${mm}m ${s % 60}s`;
  return `${s}s`;
}

export function time(unix) {
  if (!unix) return "—";
  const d = new Date(unix * 1000);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString();
}

export const dash = (v) => (v === null || v === undefined || v === "" ? "—" : String(v));

/** A small state label; `kind` picks its colour class. */
export const badge = (text, kind) => h(`span.badge.${kind}`, text);

/** A sparkline of `values` (nulls are gaps) as inline SVG, with a label for screen readers. */
export function sparkline(values, label) {
  const w = 300;
  const ht = 60;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${ht}`);
  svg.setAttribute("class", "spark");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  svg.setAttribute("preserveAspectRatio", "none");
  const nums = values.filter((v) => typeof v === "number");
  if (nums.length < 2) return svg;
  const min = Math.min(...nums);
  const max = Math.max(...nums);
  const span = max - min || 1;
  const step = w / (values.length - 1);
  let run = [];
  const flush = () => {
    if (run.length > 1) {
      const line = document.createElementNS(SVG, "polyline");
      line.setAttribute("points", run.join(" "));
      svg.append(line);
    }
    run = [];
  };
  values.forEach((v, i) => {
    if (typeof v !== "number") return flush();
    run.push(`${(i * step).toFixed(1)},${(ht - 4 - ((v - min) / span) * (ht - 8)).toFixed(1)}`);
  });
  flush();
  return svg;
}

/** A table with a header row; `rows` are arrays of cells (nodes or text). */
export function table(caption, headers, rows) {
  return h(
    "div.scroll",
    { tabindex: "0" },
    h(
      "table",
      caption ? h("caption.sr", caption) : null,
      h("thead", h("tr", headers.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", rows.map((r) => h("tr", r.map((c) => (c instanceof Node && c.tagName === "TD" ? c : h("td", c)))))),
    ),
  );
}

/** A message line that says it is an error, or clears itself with "". */
export function say(el, text, ok = false) {
  el.textContent = text;
  el.classList.toggle("ok", ok && !!text);
  el.classList.toggle("error", !ok && !!text);
}
