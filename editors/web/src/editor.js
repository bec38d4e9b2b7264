// The LLMCL editor of the contract page: CodeMirror 6 over the page's <textarea>.
//
// Progressive: the textarea stays in the form and is the value that gets submitted; the
// editor mounts beside it, hides it and copies every change back into it. Without
// JavaScript the textarea works as before. Highlighting is read from the one TextMate
// grammar (editors/vscode/syntaxes/llmcl.tmLanguage.json, served as a static file): its
// match rules, in order, tokenize each line. Diagnostics come from the page's own
// validate endpoint (the same fragment the textarea page shows), placed at line:column.
import { EditorState } from "@codemirror/state";
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { StreamLanguage, syntaxHighlighting, bracketMatching } from "@codemirror/language";
import { linter, lintGutter, lintKeymap, forceLinting } from "@codemirror/lint";
import { classHighlighter, tags } from "@lezer/highlight";

// TextMate scope prefix -> token name (a @lezer/highlight tag name, or one of tokenTable's).
const SCOPE_TOKENS = [
  ["comment", "comment"],
  ["string.regexp", "regexp"],
  ["string", "string"],
  ["constant.numeric", "number"],
  ["constant.language", "bool"],
  ["variable.language", "llmclInput"],
  ["keyword.operator.logical", "logicOperator"],
  ["keyword.operator.comparison", "compareOperator"],
  ["keyword", "keyword"],
  ["entity.name.function", "llmclCall"],
  ["variable", "variableName"],
];

function tokenFor(scope) {
  for (const [prefix, token] of SCOPE_TOKENS) {
    if (scope === prefix || scope.startsWith(prefix + ".")) { return token; }
  }
  return null;
}

// Flatten the grammar's top-level patterns (following #includes) into sticky regexps.
export function grammarRules(grammar) {
  const rules = [];
  const walk = (patterns) => {
    for (const p of patterns) {
      if (p.include && p.include.startsWith("#")) {
        walk(grammar.repository[p.include.slice(1)].patterns);
      } else if (p.match) {
        rules.push({ re: new RegExp(p.match, "y"), token: tokenFor(p.name || "") });
      }
    }
  };
  walk(grammar.patterns);
  return rules;
}

function llmclLanguage(grammar) {
  const rules = grammarRules(grammar);
  return StreamLanguage.define({
    name: "llmcl",
    token(stream) {
      if (stream.eatSpace()) { return null; }
      for (const rule of rules) {
        rule.re.lastIndex = stream.pos;
        const m = rule.re.exec(stream.string);
        if (m && m[0].length > 0) {
          stream.pos += m[0].length;
          return rule.token;
        }
      }
      stream.next();
      return null;
    },
    languageData: { commentTokens: { line: "#" } },
    tokenTable: {
      llmclInput: tags.special(tags.variableName),
      llmclCall: tags.function(tags.variableName),
    },
  });
}

function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

function post(url, source) {
  const body = new URLSearchParams({ source });
  return fetch(url, {
    method: "POST",
    body,
    credentials: "same-origin",
    // HX-Request makes the validate view answer with its diagnostics fragment.
    headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" },
  });
}

// Read the diagnostics fragment's errors (data-line / data-column) into CodeMirror's form.
function diagnosticsFrom(doc, fragment) {
  const out = [];
  fragment.querySelectorAll(".lc-diag").forEach((el) => {
    const lineNo = Math.min(Math.max(parseInt(el.dataset.line, 10) || 1, 1), doc.lines);
    const line = doc.line(lineNo);
    const column = parseInt(el.dataset.column, 10);
    let from = line.from;
    let to = line.to;
    if (column > 0) {
      from = Math.min(line.from + column - 1, line.to);
      const word = /^[A-Za-z0-9_]+/.exec(line.text.slice(from - line.from));
      to = Math.min(from + (word ? word[0].length : 1), line.to);
    }
    const message = el.querySelector(".message");
    const hint = el.querySelector(".lc-hint");
    let text = message ? message.textContent.trim() : el.textContent.trim();
    if (hint) { text += " (" + hint.textContent.trim() + ")"; }
    out.push({ from, to: Math.max(to, from), severity: "error", message: text });
  });
  fragment.querySelectorAll(".lc-diag-free").forEach((el) => {
    out.push({ from: 0, to: Math.min(doc.length, 1), severity: "error", message: el.textContent.trim() });
  });
  return out;
}

function mount(host) {
  const textarea = document.getElementById(host.dataset.for);
  const panel = document.getElementById(host.dataset.diagnostics);
  const status = host.querySelector(".lc-editor-status");
  if (!textarea) { return; }

  // A page that arrives with the server's verdict (a save it refused says why) keeps that
  // text until the source changes: the first check only places the markers.
  const served = panel && panel.querySelector(".lc-status") ? textarea.value : null;
  const validate = async (view) => {
    const source = view.state.doc.toString();
    let response;
    try {
      response = await post(host.dataset.validateUrl, source);
    } catch (err) {
      return [];
    }
    if (!response.ok || view.state.doc.toString() !== source) { return []; }
    const html = await response.text();
    if (panel && source !== served) { panel.innerHTML = html; }
    const fragment = document.createElement("div");
    fragment.innerHTML = html;
    return diagnosticsFrom(view.state.doc, fragment);
  };

  const format = async (view) => {
    const source = view.state.doc.toString();
    const response = await post(host.dataset.formatUrl, source);
    const answer = await response.json();
    if (response.ok && view.state.doc.toString() === source) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: answer.source } });
      if (status) { status.textContent = "Formatted."; }
    } else if (status) {
      status.textContent = answer.error ? "Not formatted: " + answer.error : "Not formatted.";
    }
    return true;
  };

  const start = (language) => {
    const view = new EditorView({
      parent: host.querySelector(".lc-editor-mount"),
      state: EditorState.create({
        doc: textarea.value,
        extensions: [
          lineNumbers(),
          highlightActiveLineGutter(),
          highlightActiveLine(),
          drawSelection(),
          history(),
          bracketMatching(),
          language ? [language] : [],
          syntaxHighlighting(classHighlighter),
          lintGutter(),
          linter(validate, { delay: 400 }),
          keymap.of([
            { key: "Shift-Alt-f", run: (v) => { format(v); return true; } },
            indentWithTab,
            ...defaultKeymap,
            ...historyKeymap,
            ...lintKeymap,
          ]),
          // Under a Content-Security-Policy, CodeMirror's own <style> needs the page's nonce.
          host.dataset.cspNonce ? EditorView.cspNonce.of(host.dataset.cspNonce) : [],
          EditorView.contentAttributes.of({
            "aria-label": "LLMCL source (Escape then Tab leaves the editor)",
          }),
          EditorView.updateListener.of((update) => {
            if (update.docChanged) { textarea.value = update.state.doc.toString(); }
          }),
        ],
      }),
    });
    textarea.hidden = true;
    host.hidden = false;
    const button = host.querySelector(".lc-format");
    if (button) { button.addEventListener("click", () => { format(view); view.focus(); }); }
    if (textarea.value.trim()) { forceLinting(view); }
    host.llmclView = view;
    host.dataset.ready = "true";
  };

  fetch(host.dataset.grammarUrl, { credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : null))
    .then((grammar) => start(grammar ? llmclLanguage(grammar) : null))
    .catch(() => start(null));
}

function init() {
  document.querySelectorAll("[data-llmcl-editor]").forEach(mount);
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", init);
} else {
  init();
}
