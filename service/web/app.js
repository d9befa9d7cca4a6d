// The sourced web form: ask a question, show the answer inside the paragraph it came from.
//
// Every node is built with createElement/textContent: article text is data, never markup.
// API offsets count Unicode code points (Python str); JavaScript strings count UTF-16 units,
// so offsets go through toUnits() before slicing.
"use strict";

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  node.append(...children); // strings become text nodes
  return node;
}

async function api(path, options = {}) {
  const response = await fetch(path, { headers: { Accept: "application/json" }, ...options });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(body.detail || `The server answered ${response.status}.`);
  }
  return body;
}

// ---------------------------------------------------------------------------- offsets and text

/** UTF-16 index of code point number `cp` in `text`. */
function toUnits(text, cp) {
  let units = 0;
  for (let n = 0; n < cp && units < text.length; n++) {
    units += text.codePointAt(units) > 0xffff ? 2 : 1;
  }
  return units;
}

/** [start, end) of each paragraph: text between blank lines. */
function paragraphs(text) {
  const spans = [];
  let start = 0;
  for (const gap of text.matchAll(/\n[ \t]*\n\s*/g)) {
    if (gap.index > start) spans.push([start, gap.index]);
    start = gap.index + gap[0].length;
  }
  if (start < text.length) spans.push([start, text.length]);
  return spans;
}

/** The paragraph(s) around [start, end), in UTF-16 units. */
function paragraphAround(text, start, end) {
  const spans = paragraphs(text);
  const first = spans.find(([, b]) => b > start) || [0, text.length];
  const last = spans.find(([, b]) => b >= end) || [first[0], text.length];
  return [Math.min(first[0], start), Math.max(last[1], end)];
}

/** Paragraph spans, with those the span [start, end) touches merged into one. */
function mergeAround(spans, start, end) {
  const touched = spans.filter(([a, b]) => a < end && b > start);
  if (!touched.length) return spans;
  const merged = [Math.min(touched[0][0], start), Math.max(touched[touched.length - 1][1], end)];
  return [...spans.filter(([, b]) => b <= merged[0]), merged, ...spans.filter(([a]) => a >= merged[1])];
}

/** Text from a to b with the span [hs, he) wrapped in `wrap` (nodes; hs..he must lie inside). */
function withHighlight(text, a, b, hs, he, wrap) {
  const nodes = [];
  if (hs > a) nodes.push(text.slice(a, hs));
  nodes.push(wrap(text.slice(hs, he)));
  if (b > he) nodes.push(text.slice(he, b));
  return nodes;
}

function originalLink(url) {
  try {
    const parsed = new URL(url);
    if (parsed.protocol === "http:" || parsed.protocol === "https:") {
      return el("a", { href: parsed.href, rel: "noopener noreferrer" }, "original article ↗");
    }
  } catch (_) { /* not a URL: show nothing */ }
  return null;
}

function viewUrl(docId, start, end, question) {
  const params = new URLSearchParams({ doc: docId, start: String(start), end: String(end) });
  if (question) params.set("q", question);
  return `/?${params}`;
}

function metaLine(...parts) {
  const line = el("p", { class: "meta" });
  parts.filter(Boolean).forEach((part, i) => line.append(i ? " · " : "", part));
  return line;
}

function timing(answer, roundTripMs) {
  const confidence = `confidence ${Math.round(answer.confidence * 100)}%`;
  const server = Math.round(answer.timings ? answer.timings.total_ms : roundTripMs);
  return `${confidence} · answered in ${server} ms (${Math.round(roundTripMs)} ms round trip)`;
}

// ---------------------------------------------------------------------------- asking

/** The filter inputs as /ask body fields (empty ones left out). */
function readFilters() {
  const filters = {};
  if ($("published-from").value) filters.published_from = $("published-from").value;
  if ($("published-to").value) filters.published_to = $("published-to").value;
  const sources = $("source").value.split(",").map((s) => s.trim()).filter(Boolean);
  if (sources.length) filters.sources = sources;
  return filters;
}

/** Fill the filter inputs from the page URL (?from=&to=&source=), so a link keeps its filters. */
function restoreFilters(params) {
  $("published-from").value = params.get("from") || "";
  $("published-to").value = params.get("to") || "";
  $("source").value = params.get("source") || "";
  if (params.get("from") || params.get("to") || params.get("source")) $("filters").open = true;
}

function pageUrl(question) {
  const params = new URLSearchParams({ q: question });
  const pairs = [["from", "published-from"], ["to", "published-to"], ["source", "source"]];
  for (const [name, id] of pairs) {
    if ($(id).value.trim()) params.set(name, $(id).value.trim());
  }
  return `/?${params}`;
}

/** "published 2024-02-11" next to a source: news is read by when it was written. */
function published(date) {
  return el("span", { class: "published" }, date ? `published ${date}` : "publication date unknown");
}

async function ask(question) {
  const results = $("results");
  results.setAttribute("aria-busy", "true");
  results.replaceChildren(el("p", { class: "status" }, "Searching the articles…"));
  const started = performance.now();
  try {
    const answer = await api("/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ question, ...readFilters() }),
    });
    const elapsed = performance.now() - started;
    const card = answer.answer === null
      ? renderNotFound(answer, elapsed)
      : await renderAnswer(answer, elapsed);
    results.replaceChildren(card);
  } catch (error) {
    results.replaceChildren(el("p", { class: "error", role: "alert" }, error.message));
  } finally {
    results.setAttribute("aria-busy", "false");
  }
}

async function renderAnswer(answer, elapsed) {
  const c = answer.citations[0];
  const card = el("div", { class: "answer-card" },
    el("h2", { class: "label" }, "Answer"),
    el("p", { class: "answer", id: "answer-text" }, answer.answer));
  card.append(el("blockquote", { class: "context" }, await citedParagraph(c)));
  const title = el("a", { href: viewUrl(c.doc_id, c.char_start, c.char_end, answer.question) }, c.title);
  card.append(el("p", { class: "source" }, "From ", title, "\u00a0· ", published(c.published)));
  card.append(metaLine(c.url && originalLink(c.url)));
  if (answer.conflict) card.append(disagreement(answer));
  card.append(metaLine(timing(answer, elapsed)));
  return card;
}

/** Other sources give another answer about as strongly: show each, with its own source. */
function disagreement(answer) {
  const box = el("div", { class: "conflict", id: "conflict", role: "note" },
    el("h3", {}, "Sources disagree"));
  for (const alt of answer.alternatives) {
    const link = el("a", { href: viewUrl(alt.doc_id, alt.char_start, alt.char_end, answer.question) }, alt.title);
    box.append(el("p", {}, el("strong", {}, alt.answer), " \u2014 \u201c", alt.quote, "\u201d"),
      el("p", { class: "source" }, "From ", link, "\u00a0· ", published(alt.published)));
  }
  return box;
}

/** The cited sentence inside its paragraph: the quote underlined, the answer in <mark>. */
async function citedParagraph(c) {
  const mark = (text) => el("mark", {}, text);
  let text, a, b, qs, qe;
  try {
    text = (await api(`/documents/${encodeURIComponent(c.doc_id)}`)).text;
    [qs, qe] = [toUnits(text, c.char_start), toUnits(text, c.char_end)];
    [a, b] = paragraphAround(text, qs, qe);
  } catch (_) { // the document is gone: show the quote alone
    text = c.quote; a = qs = 0; b = qe = text.length;
  }
  const quote = text.slice(qs, qe);
  let inner = [quote];
  if (c.answer_start !== null && c.answer_end !== null) {
    const as = toUnits(quote, c.answer_start - c.char_start);
    const ae = toUnits(quote, c.answer_end - c.char_start);
    inner = withHighlight(quote, 0, quote.length, as, ae, mark);
  }
  const quoteSpan = el("span", { class: "quote" }, ...inner);
  return el("p", { class: "paragraph" }, ...withHighlight(text, a, b, qs, qe, () => quoteSpan));
}

function renderNotFound(answer, elapsed) {
  const card = el("div", { class: "not-found-card" },
    el("h2", { class: "not-found" }, "Not found in these articles"),
    el("p", { class: "reason" }, answer.reason || "No answer in the closest passages."));
  if (answer.passages.length) {
    card.append(el("h3", {}, "Nearest passages"));
    const list = el("ol", { class: "passages" });
    for (const p of answer.passages.slice(0, 3)) {
      const chars = Array.from(p.text); // code points: never cut an emoji in half
      const snippet = chars.length > 320 ? `${chars.slice(0, 320).join("").trimEnd()}…` : p.text;
      list.append(el("li", {},
        el("a", { href: viewUrl(p.doc_id, p.char_start, p.char_end, answer.question) }, p.title),
        "\u00a0· ", published(p.published),
        el("p", { class: "snippet" }, snippet)));
    }
    card.append(list);
  }
  card.append(metaLine(timing(answer, elapsed)));
  return card;
}

// ---------------------------------------------------------------------------- document view

async function showDocument(params) {
  const view = $("document-view");
  $("ask-form").hidden = true;
  view.hidden = false;
  const back = params.get("q") ? `/?${new URLSearchParams({ q: params.get("q") })}` : "/";
  view.replaceChildren(el("p", {}, el("a", { href: back, class: "back" }, "← Ask a question")));
  let doc;
  try {
    doc = await api(`/documents/${encodeURIComponent(params.get("doc"))}`);
  } catch (error) {
    view.append(el("p", { class: "error", role: "alert" }, error.message));
    return;
  }
  document.title = `${doc.title} · sourced`;
  view.append(el("h1", { class: "doc-title" }, doc.title));
  view.append(metaLine(doc.source, doc.published && `published ${doc.published}`,
    doc.url && originalLink(doc.url), `id ${doc.doc_id}`));
  const text = doc.text;
  const [cs, ce] = [Number(params.get("start")), Number(params.get("end"))];
  const valid = Number.isInteger(cs) && Number.isInteger(ce) && 0 <= cs && cs < ce && ce <= doc.chars;
  const [qs, qe] = valid ? [toUnits(text, cs), toUnits(text, ce)] : [-1, -1];
  const body = el("div", { class: "doc-text" });
  const target = el("mark", { id: "quote", tabindex: "-1" });
  for (const [a, b] of valid ? mergeAround(paragraphs(text), qs, qe) : paragraphs(text)) {
    const holdsQuote = valid && a <= qs && qe <= b;
    body.append(el("p", {}, ...(holdsQuote
      ? withHighlight(text, a, b, qs, qe, (quote) => { target.append(quote); return target; })
      : [text.slice(a, b)])));
  }
  view.append(body);
  if (target.isConnected) {
    target.scrollIntoView({ block: "center" });
    target.focus({ preventScroll: true });
  }
}

// ---------------------------------------------------------------------------- start

function main() {
  const params = new URLSearchParams(window.location.search);
  if (params.get("doc")) {
    showDocument(params);
    return;
  }
  const form = $("ask-form");
  const input = $("question");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = input.value.trim();
    if (!question) {
      $("results").replaceChildren(el("p", { class: "error", role: "alert" }, "Type a question first."));
      return;
    }
    history.replaceState(null, "", pageUrl(question));
    ask(question);
  });
  restoreFilters(params);
  if (params.get("q")) {
    input.value = params.get("q");
    ask(params.get("q"));
  }
}

main();
