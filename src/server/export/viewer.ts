import { createHash } from "node:crypto";

// The bundle's index.html: one file that works from file:// with no server and no network. The
// data sits in the page as JSON blocks (`<script type="application/json">`, never executed) with
// `<`, `>`, `&` and the JavaScript line separators written as \u escapes, so no message text can
// close the block or open a tag. The viewer script builds every piece of HTML from escaped text:
// Markdown is rendered by a small renderer (headings, paragraphs, lists, quotes, code, emphasis,
// links) that escapes first and only links http:, https: and mailto: URLs. A Content-Security-
// Policy allows this one script and this one stylesheet (by hash) and loads nothing else, so even
// a mistake in the escaping could neither run another script nor fetch anything.

/** Ids of the page's JSON blocks (the viewer and the tests read them by id). */
export const DATA_BLOCKS = { messages: "mailroom-messages", agents: "mailroom-agents", meta: "mailroom-meta" } as const;
export const VIEWER_SCRIPT_ID = "mailroom-viewer";

/** JSON text that is safe inside a <script type="application/json"> block. */
export function jsonForHtml(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);
}

const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#f6f8fa}
header{display:flex;gap:16px;align-items:center;padding:10px 16px;background:#24292f;color:#fff}
header h1{font-size:16px;margin:0;font-weight:600}
header a{color:#fff}
header input{flex:1;max-width:480px;padding:6px 10px;border-radius:6px;border:1px solid #57606a;font:inherit}
#status{font-size:12px;opacity:.8}
main{display:grid;grid-template-columns:minmax(260px,32%) 1fr;height:calc(100vh - 50px)}
nav{overflow:auto;border-right:1px solid #d0d7de;background:#fff}
nav ul{list-style:none;margin:0;padding:0}
nav li a{display:block;padding:8px 12px;border-bottom:1px solid #eaeef2;color:inherit;text-decoration:none}
nav li a:hover{background:#f3f4f6}
nav .meta{font-size:12px;color:#57606a}
nav .more{padding:8px 12px;font-size:12px;color:#57606a}
section#view{overflow:auto;padding:16px 24px}
article{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:12px 16px;margin-bottom:12px}
article.focus{border-color:#0969da;box-shadow:0 0 0 2px #0969da33}
article h2{font-size:16px;margin:0 0 4px}
.headers{font-size:12px;color:#57606a;margin-bottom:8px}
.tag{display:inline-block;font-size:11px;padding:0 6px;border-radius:10px;background:#ddf4ff;color:#0969da;margin-left:6px}
.body pre{background:#f6f8fa;padding:8px;overflow:auto;border-radius:6px}
.body code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
.body blockquote{margin:0;padding-left:12px;border-left:3px solid #d0d7de;color:#57606a}
table{border-collapse:collapse}
td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
`.trim();

// Plain ES2017 for any browser; runs once on load. Everything it puts into innerHTML passes esc().
const SCRIPT = String.raw`
(function () {
  "use strict";
  function data(id) { return JSON.parse(document.getElementById(id).textContent); }
  var messages = data("${DATA_BLOCKS.messages}");
  var agents = data("${DATA_BLOCKS.agents}");
  var meta = data("${DATA_BLOCKS.meta}");
  var LIST_LIMIT = 500;
  var ATTACHMENT_FILE = /^[0-9a-f]{64}(\.[a-z0-9]{1,10})?$/;

  function esc(value) {
    return String(value).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function safeUrl(url) {
    url = url.trim();
    return /^(https?:\/\/|mailto:)[^\s\u0000-\u001f\u007f]+$/i.test(url) ? url : null;
  }
  function emphasis(text) {
    return esc(text)
      .replace(/\*\*([^*\n]+)\*\*/g, "<strong>$1</strong>")
      .replace(/(^|[^*\w])\*([^*\n]+)\*(?![*\w])/g, "$1<em>$2</em>");
  }
  function links(text) {
    var pattern = /\[([^\]\n]{1,500})\]\(([^()\s]{1,2000})\)/g;
    var out = "", last = 0, match;
    while ((match = pattern.exec(text))) {
      out += emphasis(text.slice(last, match.index));
      var url = safeUrl(match[2]);
      out += url ? '<a href="' + esc(url) + '" rel="noopener noreferrer nofollow" target="_blank">' + emphasis(match[1]) + "</a>" : emphasis(match[1]);
      last = pattern.lastIndex;
    }
    return out + emphasis(text.slice(last));
  }
  function inline(text) {
    return text.split(/(` + "`[^`\\n]+`" + String.raw`)/).map(function (part, index) {
      return index % 2 ? "<code>" + esc(part.slice(1, -1)) + "</code>" : links(part);
    }).join("");
  }
  function renderMarkdown(source) {
    var lines = String(source).replace(/\r\n?/g, "\n").split("\n");
    var html = [], paragraph = [], list = null, i = 0;
    function flushParagraph() {
      if (paragraph.length) html.push("<p>" + paragraph.map(inline).join("<br>") + "</p>");
      paragraph = [];
    }
    function closeList() {
      if (list) html.push("</" + list + ">");
      list = null;
    }
    while (i < lines.length) {
      var line = lines[i];
      var fence = /^\s{0,3}(` + "```|~~~" + String.raw`)/.exec(line);
      if (fence) {
        flushParagraph(); closeList();
        var code = [];
        i++;
        while (i < lines.length && lines[i].trim().indexOf(fence[1]) !== 0) code.push(lines[i++]);
        i++;
        html.push("<pre><code>" + esc(code.join("\n")) + "</code></pre>");
        continue;
      }
      var heading = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
      var bullet = /^\s{0,3}[-*+]\s+(.*)$/.exec(line);
      var numbered = /^\s{0,3}\d{1,9}[.)]\s+(.*)$/.exec(line);
      var quote = /^\s{0,3}>\s?(.*)$/.exec(line);
      if (heading) {
        flushParagraph(); closeList();
        html.push("<h" + heading[1].length + ">" + inline(heading[2]) + "</h" + heading[1].length + ">");
      } else if (bullet || numbered) {
        flushParagraph();
        var kind = bullet ? "ul" : "ol";
        if (list !== kind) { closeList(); html.push("<" + kind + ">"); list = kind; }
        html.push("<li>" + inline((bullet || numbered)[1]) + "</li>");
      } else if (quote) {
        flushParagraph(); closeList();
        html.push("<blockquote>" + inline(quote[1]) + "</blockquote>");
      } else if (!line.trim()) {
        flushParagraph(); closeList();
      } else {
        closeList();
        paragraph.push(line);
      }
      i++;
    }
    flushParagraph(); closeList();
    return html.join("\n");
  }

  var byId = {};
  var threads = [], threadOf = {}, threadByKey = {};
  messages.forEach(function (m) {
    byId[m.id] = m;
    var key = m.thread_id || String(m.id);
    var thread = threadByKey[key];
    if (!thread) {
      thread = threadByKey[key] = { index: threads.length, key: key, subject: m.subject, messages: [], names: {} };
      threads.push(thread);
    }
    thread.messages.push(m);
    thread.names[m.from] = true;
    threadOf[m.id] = thread;
  });
  var threadOrder = threads.slice().sort(function (a, b) {
    return b.messages[b.messages.length - 1].id - a.messages[a.messages.length - 1].id;
  });

  function when(ts) { return String(ts).replace("T", " ").replace(/(\.\d+)?(Z|\+00:00)$/, " UTC"); }
  function names(m, kind) {
    return m.recipients.filter(function (r) { return r.kind === kind; }).map(function (r) { return r.name; });
  }
  function sender(m) { return m.from_project ? m.from + " (" + m.from_project + ")" : m.from; }
  function messageHtml(m, focus) {
    var head = ["From " + esc(sender(m)), "at " + esc(when(m.created_ts))];
    ["to", "cc", "bcc"].forEach(function (kind) {
      var list = names(m, kind);
      if (list.length) head.push(kind + " " + esc(list.join(", ")));
    });
    var tags = (m.importance && m.importance !== "normal" ? '<span class="tag">' + esc(m.importance) + "</span>" : "") +
      (m.ack_required ? '<span class="tag">ack required</span>' : "") +
      (m.topic ? '<span class="tag">#' + esc(m.topic) + "</span>" : "");
    var files = m.attachments.map(function (a) {
      var label = esc(a.name) + " (" + esc(a.media_type) + ", " + esc(a.bytes) + " bytes)";
      if (a.missing || !ATTACHMENT_FILE.test(a.file || "")) return "<li>" + label + " — not in this export</li>";
      return '<li><a href="attachments/' + esc(a.file) + '" download="' + esc(a.name) + '">' + label + "</a></li>";
    }).join("");
    return '<article id="msg-' + esc(m.id) + '"' + (focus ? ' class="focus"' : "") + ">" +
      "<h2>" + esc(m.subject) + tags + "</h2>" +
      '<div class="headers">' + head.join(" · ") + " · #" + esc(m.id) + "</div>" +
      (files ? "<ul>" + files + "</ul>" : "") +
      '<div class="body">' + renderMarkdown(m.body_md) + "</div></article>";
  }
  function threadItem(thread) {
    var last = thread.messages[thread.messages.length - 1];
    return '<li><a href="#t-' + thread.index + '">' + esc(thread.subject) +
      '<div class="meta">' + esc(Object.keys(thread.names).join(", ")) + " · " + thread.messages.length +
      (thread.messages.length === 1 ? " message" : " messages") + " · " + esc(when(last.created_ts)) + "</div></a></li>";
  }
  function messageItem(m) {
    return '<li><a href="#m-' + esc(m.id) + '">' + esc(m.subject) +
      '<div class="meta">' + esc(sender(m)) + " · " + esc(when(m.created_ts)) + "</div></a></li>";
  }
  function haystack(m) {
    return [m.subject, m.body_md, m.from, m.topic || "", m.thread_id || ""]
      .concat(m.recipients.map(function (r) { return r.name; })).join("\n").toLowerCase();
  }

  var list = document.getElementById("list");
  var view = document.getElementById("view");
  var search = document.getElementById("search");
  var status = document.getElementById("status");

  function renderList() {
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var items, total;
    if (!words.length) {
      total = threadOrder.length;
      items = threadOrder.slice(0, LIST_LIMIT).map(threadItem);
      status.textContent = total + (total === 1 ? " thread" : " threads") + ", " + messages.length + (messages.length === 1 ? " message" : " messages");
    } else {
      var found = messages.filter(function (m) {
        var text = haystack(m);
        return words.every(function (word) { return text.indexOf(word) !== -1; });
      }).reverse();
      total = found.length;
      items = found.slice(0, LIST_LIMIT).map(messageItem);
      status.textContent = total + (total === 1 ? " match" : " matches");
    }
    list.innerHTML = "<ul>" + items.join("") + "</ul>" +
      (total > LIST_LIMIT ? '<div class="more">Showing the newest ' + LIST_LIMIT + " of " + total + "; refine the search.</div>" : "");
  }
  function overview() {
    var rows = agents.map(function (a) {
      return "<tr><td>" + esc(a.name) + (a.project ? " (" + esc(a.project) + ")" : "") + "</td><td>" + esc(a.program) + "</td><td>" + esc(a.model) +
        "</td><td>" + esc(a.task_description) + "</td><td>" + esc(when(a.last_active_ts)) + "</td></tr>";
    }).join("");
    return "<h2>" + esc(meta.project.slug) + "</h2>" +
      "<p>Exported " + esc(when(meta.generated_at)) + (meta.pseudonymized ? " · agent names pseudonymised" : "") +
      " · " + esc(meta.redactions) + " secrets redacted.</p>" +
      "<table><tr><th>Agent</th><th>Program</th><th>Model</th><th>Task</th><th>Last active</th></tr>" + rows + "</table>";
  }
  function showThread(thread, focusId) {
    view.innerHTML = thread.messages.map(function (m) { return messageHtml(m, m.id === focusId); }).join("");
    var focused = focusId !== undefined && document.getElementById("msg-" + focusId);
    if (focused && focused.scrollIntoView) focused.scrollIntoView();
  }
  function route() {
    var hash = String(location.hash || "");
    var match = /^#([mt])-(\d{1,12})$/.exec(hash);
    if (match && match[1] === "m" && byId[match[2]]) showThread(threadOf[match[2]], Number(match[2]));
    else if (match && match[1] === "t" && threads[Number(match[2])]) showThread(threads[Number(match[2])]);
    else view.innerHTML = overview();
  }

  document.title = meta.project.slug + " — Mailroom export";
  search.addEventListener("input", renderList);
  window.addEventListener("hashchange", route);
  renderList();
  route();
})();
`.trim();

function cspHash(text: string): string {
  return `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;
}

const CSP = [
  "default-src 'none'",
  `script-src ${cspHash(SCRIPT)}`,
  `style-src ${cspHash(STYLE)}`,
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

/** The page up to where the JSON blocks go. */
export function viewerHead(title: string): string {
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${CSP}">`,
    '<meta name="referrer" content="no-referrer">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style>`,
    "</head>",
    "<body>",
    '<header><h1><a href="#">Mailroom export</a></h1><input id="search" type="search" placeholder="Search subject, body, names…" autocomplete="off"><span id="status"></span></header>',
    '<main><nav id="list"></nav><section id="view"></section></main>',
    "",
  ].join("\n");
}

export function dataBlockOpen(id: string): string {
  return `<script type="application/json" id="${id}">`;
}

export const DATA_BLOCK_CLOSE = "</script>\n";

/** The page after the JSON blocks. */
export function viewerTail(): string {
  return `<script id="${VIEWER_SCRIPT_ID}">${SCRIPT}</script>\n</body>\n</html>\n`;
}
