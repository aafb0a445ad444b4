"""The interactive HTML page of a `microgrid.walkthrough.Walkthrough`: markup, style, script.

One file with everything inline (no script, style sheet or font is
fetched, nothing refers to a URL), so it works from ``file://`` and offline.
The drawing is the library's own SVG; the script finds its nodes and edges
by the ``<title>`` Graphviz gives each (the DOT names: ``n2_1`` for a
neuron, ``v3``/``o3`` for a value and its operation, ``n1_1->n2_1`` for an
edge), highlights the current step's, hides each grad until the step that
computes it, and shows a node's data and grad on hover.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from microgrid.walkthrough import Step, Walkthrough


def page(walk: Walkthrough, svg: str | None, why_no_svg: str) -> str:
    """The page: header, drawing, controls, current step, the list of every step."""
    from microgrid.walkthrough import _prose_html, _shown_pair

    steps_html = []
    for step in walk.steps:
        textbook, engine = _shown_pair(step.textbook, step.engine, walk.precision)
        verdict = ("agrees" if step.agrees
                   else f"DISAGREES with the textbook's {textbook}")
        steps_html.append(
            f'<li id="step-{step.number}" class="step{"" if step.agrees else " bad"}" '
            f'data-step="{step.number}" tabindex="-1">'
            f'<span class="tag">{html.escape(step.section)}</span> '
            f'<span class="eq">{html.escape(step.text)}</span>'
            f'<div class="engine">engine: <code>{html.escape(step.engine_name)}</code> = '
            f'<span class="value">{html.escape(engine)}</span> '
            f'<span class="verdict">{html.escape(verdict)}</span></div>'
            + (f'<div class="note">{_prose_html(step.note)}</div>' if step.note else "")
            + "</li>")
    data = {
        "steps": [_step_data(step) for step in walk.steps],
        "nodes": walk.node_info,
    }
    verdict = (f"All {len(walk.steps)} steps agree with the textbook." if walk.ok else
               f"{len(walk.disagreements)} of {len(walk.steps)} steps DISAGREE with the "
               f"textbook (first: step {walk.disagreements[0].number}).")
    figure = (svg if svg is not None
              else f'<p class="no-figure">{html.escape(why_no_svg)}</p>')
    intro = "".join(f"<p>{_prose_html(p)}</p>" for p in walk.intro)
    return _TEMPLATE.format(
        title=html.escape(walk.title),
        intro=intro,
        verdict_class="ok" if walk.ok else "bad",
        verdict=html.escape(verdict),
        figure=figure,
        count=len(walk.steps),
        steps="\n".join(steps_html),
        data=json.dumps(data, ensure_ascii=False).replace("<", "\\u003c"),
        style=_STYLE,
        script=_SCRIPT,
    )


def _step_data(step: Step) -> dict[str, object]:
    return {"nodes": list(step.nodes), "edges": [f"{t}->{h}" for t, h in step.edges],
            "reveals": list(step.reveals)}


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<header>
<h1>{title}</h1>
{intro}
<p id="verdict" class="{verdict_class}">{verdict}</p>
</header>
<main>
<section id="figure" aria-label="drawing">{figure}</section>
<section id="panel">
<div id="controls" role="toolbar" aria-label="steps">
<button id="first" type="button" title="first step (Home)">&#x25C0;&#x25C0;</button>
<button id="prev" type="button" title="previous step (left arrow)">&#x25C0; Previous</button>
<button id="play" type="button" title="play or pause (space)">&#x25B6; Play</button>
<button id="next" type="button" title="next step (right arrow)">Next &#x25B6;</button>
<button id="last" type="button" title="last step (End)">&#x25B6;&#x25B6;</button>
<span id="counter" aria-live="polite">step 1 of {count}</span>
</div>
<div id="current" aria-live="polite"></div>
<div id="hover">Hover over a node of the drawing to see its data and grad.</div>
<ol id="steps">
{steps}
</ol>
</section>
</main>
<script type="application/json" id="walkthrough-data">{data}</script>
<script>{script}</script>
</body>
</html>
"""

_STYLE = """
:root { --accent: #ea580c; --ok: #15803d; --bad: #b91c1c; --muted: #6b7280; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1rem 1.5rem;
       color: #111827; line-height: 1.45; }
h1 { font-size: 1.35rem; margin: 0 0 .5rem; }
header p { margin: .25rem 0; max-width: 70rem; }
#verdict.ok { color: var(--ok); font-weight: 600; }
#verdict.bad { color: var(--bad); font-weight: 700; }
main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(18rem, 2fr); gap: 1rem;
       align-items: start; }
#figure { grid-column: 1; overflow: auto; border: 1px solid #e5e7eb; border-radius: 6px;
          padding: .5rem; max-height: 75vh; }
#figure svg { max-width: 100%; height: auto; }
#panel { grid-column: 2; }
#steps { padding-left: 2.5rem; margin: .75rem 0 0; max-height: 55vh; overflow: auto;
         border: 1px solid #e5e7eb; border-radius: 6px; position: relative; }
#controls { display: flex; flex-wrap: wrap; gap: .35rem; align-items: center; }
button { font: inherit; padding: .25rem .6rem; border: 1px solid #9ca3af; border-radius: 4px;
         background: #f9fafb; cursor: pointer; }
button:hover { background: #fff7ed; }
#counter { color: var(--muted); margin-left: .5rem; }
#current, #hover { margin-top: .75rem; padding: .6rem .8rem; border-radius: 6px;
                   border: 1px solid #e5e7eb; background: #fffbeb; }
#hover { background: #f9fafb; color: #374151; font-size: .92rem; }
.eq, .m { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.eq { white-space: pre-wrap; }
#current .eq { font-size: 1.05rem; display: block; margin: .3rem 0; }
.tag { font-size: .75rem; color: #fff; background: #6b7280; border-radius: 3px;
       padding: 0 .3rem; vertical-align: middle; }
.engine { color: #374151; font-size: .92rem; }
.verdict { color: var(--ok); font-weight: 600; }
.bad .verdict { color: var(--bad); }
li.bad { background: #fef2f2; }
.note { color: var(--muted); font-size: .9rem; }
li.step { padding: .2rem .4rem; border-radius: 4px; cursor: pointer; }
li.step.current { background: #ffedd5; outline: 2px solid var(--accent); }
li.step.done { color: #374151; }
g.node.hl polygon, g.node.hl ellipse, g.node.hl path { stroke: var(--accent) !important;
                                                      stroke-width: 3px !important; }
g.edge.hl path, g.edge.hl polygon { stroke: var(--accent) !important;
                                    stroke-width: 3.5px !important; }
g.edge.hl polygon { fill: var(--accent) !important; }
g.node { cursor: help; }
.no-figure { color: var(--muted); }
@media (max-width: 55rem) { main { display: block; } }
"""

_SCRIPT = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("walkthrough-data").textContent);
  var steps = data.steps;
  var items = Array.prototype.slice.call(document.querySelectorAll("#steps > li"));
  var nodeGroups = {}, edgeGroups = {}, gradTexts = {};
  var svg = document.querySelector("#figure svg");
  if (svg) {
    svg.querySelectorAll("g.node").forEach(function (g) {
      var t = g.querySelector("title");
      if (!t) return;
      var id = t.textContent;
      nodeGroups[id] = g;
      g.addEventListener("mouseenter", function () { describe(id); });
      if (!data.nodes[id] || data.nodes[id].grad === undefined) return;  // the legend
      g.querySelectorAll("text").forEach(function (text) {
        var s = text.textContent, m = /^(grad = |\\u03b4 = )(.*)$/.exec(s);
        if (m) gradTexts[id] = {el: text, prefix: m[1], value: m[2]};
      });
    });
    svg.querySelectorAll("g.edge").forEach(function (g) {
      var t = g.querySelector("title");
      if (!t) return;
      (edgeGroups[t.textContent] = edgeGroups[t.textContent] || []).push(g);
    });
  }
  // The step at which each node's grad is computed: hidden before it.
  var revealedAt = {};
  steps.forEach(function (s, i) {
    s.reveals.forEach(function (id) { if (!(id in revealedAt)) revealedAt[id] = i; });
  });
  var current = 0, timer = null;
  var counter = document.getElementById("counter");
  var panel = document.getElementById("current");
  var hover = document.getElementById("hover");
  var playButton = document.getElementById("play");

  function known(id) { return !(id in revealedAt) || revealedAt[id] <= current; }

  function describe(id) {
    var info = data.nodes[id];
    if (!info) { hover.textContent = id; return; }
    var text = info.name;
    if (info.data !== undefined && info.data !== "") text += ": data = " + info.data;
    if (info.grad !== undefined) {
      text += ", " + (info.gradName || "grad") + " = " +
        (known(id) ? info.grad : "not computed yet (step " + (revealedAt[id] + 1) + ")");
    }
    hover.textContent = text;
    hover.setAttribute("data-node", id);
  }

  function show(i) {
    current = Math.max(0, Math.min(steps.length - 1, i));
    var step = steps[current];
    Object.keys(nodeGroups).forEach(function (id) {
      nodeGroups[id].classList.toggle("hl", step.nodes.indexOf(id) >= 0);
    });
    Object.keys(edgeGroups).forEach(function (id) {
      var on = step.edges.indexOf(id) >= 0;
      edgeGroups[id].forEach(function (g) { g.classList.toggle("hl", on); });
    });
    Object.keys(gradTexts).forEach(function (id) {
      var g = gradTexts[id];
      g.el.textContent = g.prefix + (known(id) ? g.value : "?");
    });
    items.forEach(function (li, k) {
      li.classList.toggle("current", k === current);
      li.classList.toggle("done", k < current);
    });
    var li = items[current];
    panel.innerHTML = li.innerHTML;
    panel.setAttribute("data-step", String(current + 1));
    counter.textContent = "step " + (current + 1) + " of " + steps.length;
    // Scroll the list alone (scrollIntoView would scroll the whole page too).
    var list = li.parentNode;
    if (li.offsetTop < list.scrollTop) list.scrollTop = li.offsetTop;
    else if (li.offsetTop + li.offsetHeight > list.scrollTop + list.clientHeight)
      list.scrollTop = li.offsetTop + li.offsetHeight - list.clientHeight;
    var shown = hover.getAttribute("data-node");
    if (shown) describe(shown);
    if (current === steps.length - 1) stop();
  }

  function stop() {
    if (timer !== null) { clearInterval(timer); timer = null; }
    playButton.textContent = "\\u25b6 Play";
  }
  function play() {
    if (timer !== null) { stop(); return; }
    if (current === steps.length - 1) show(0);
    playButton.textContent = "\\u23f8 Pause";
    timer = setInterval(function () { show(current + 1); }, 1200);
  }

  function go(id, to) {
    document.getElementById(id).addEventListener("click", function () { stop(); show(to()); });
  }
  go("first", function () { return 0; });
  go("prev", function () { return current - 1; });
  go("next", function () { return current + 1; });
  go("last", function () { return steps.length - 1; });
  playButton.addEventListener("click", play);
  items.forEach(function (li, k) {
    li.addEventListener("click", function () { stop(); show(k); });
  });
  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    var keys = {ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1};
    if (e.key in keys) { stop(); show(current + keys[e.key]); }
    else if (e.key === "Home") { stop(); show(0); }
    else if (e.key === "End") { stop(); show(steps.length - 1); }
    else if (e.key === " ") { play(); }
    else return;
    e.preventDefault();
  });
  if (steps.length) show(0);
})();
"""
