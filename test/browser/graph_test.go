package browser

import (
	"encoding/json"
	"fmt"
	"strings"
)

// flowGraph is the Overview's flow graph as the page draws it: the boxes,
// and each arrow read from the drawing (which box it leaves, which box its
// arrowhead reaches), not from the data behind it.
type flowGraph struct {
	Nodes  []graphNode  `json:"nodes"`
	Edges  []graphEdge  `json:"edges"`
	Groups []graphGroup `json:"groups"`
	// Overlaps counts pairs of boxes that overlap: none in a readable
	// graph.
	Overlaps int `json:"overlaps"`
}

type graphNode struct {
	ID   string `json:"id"`
	Kind string `json:"kind"` // producer, topic or consumer
	Name string `json:"name"` // the box's first line
	Sub  string `json:"sub"`  // its second line: kind and status words
}

type graphEdge struct {
	// From and To are the ids of the boxes nearest the arrow's ends, ""
	// when an end is not at a box.
	From  string  `json:"from"`
	To    string  `json:"to"`
	Width float64 `json:"width"`
}

type graphGroup struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	// Members are the boxes drawn inside the group's frame.
	Members []string `json:"members"`
}

// readGraphJS reads the flow graph off the SVG: box positions from their
// transforms, arrow ends from the paths' geometry.
const readGraphJS = `(() => {
  const root = document.querySelector('#graph svg.flow');
  if (!root) return {nodes: [], edges: [], groups: [], overlaps: 0};
  const kinds = ['producer', 'topic', 'consumer'];
  const nodes = [...root.querySelectorAll('g.node')].map((g) => {
    const m = /translate\(([-\d.e]+),\s*([-\d.e]+)\)/.exec(g.getAttribute('transform'));
    const r = g.querySelector('rect');
    const texts = g.querySelectorAll('text');
    return {
      id: g.dataset.id, kind: kinds.find((k) => g.classList.contains(k)) || '',
      name: texts[0] ? texts[0].textContent : '', sub: texts[1] ? texts[1].textContent : '',
      x: +m[1], y: +m[2], w: +r.getAttribute('width'), h: +r.getAttribute('height'),
    };
  });
  const dist = (n, p) => Math.hypot(Math.max(n.x - p.x, 0, p.x - (n.x + n.w)), Math.max(n.y - p.y, 0, p.y - (n.y + n.h)));
  const at = (p) => {
    let best = null, d = Infinity;
    for (const n of nodes) { const x = dist(n, p); if (x < d) { d = x; best = n; } }
    return best && d <= 12 ? best.id : '';
  };
  const edges = [...root.querySelectorAll('path.edge')].map((p) => {
    const len = p.getTotalLength();
    return {from: at(p.getPointAtLength(0)), to: at(p.getPointAtLength(len)), width: parseFloat(getComputedStyle(p).strokeWidth)};
  });
  const groups = [...root.querySelectorAll('g.group')].map((g) => {
    const r = g.querySelector('rect');
    const x = +r.getAttribute('x'), y = +r.getAttribute('y'), w = +r.getAttribute('width'), h = +r.getAttribute('height');
    return {
      id: g.dataset.id, label: g.querySelector('text').textContent,
      members: nodes.filter((n) => n.x >= x && n.y >= y && n.x + n.w <= x + w && n.y + n.h <= y + h).map((n) => n.id),
    };
  });
  let overlaps = 0;
  for (let i = 0; i < nodes.length; i++) for (let j = i + 1; j < nodes.length; j++) {
    const a = nodes[i], b = nodes[j];
    if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) overlaps++;
  }
  return {nodes: nodes.map(({id, kind, name, sub}) => ({id, kind, name, sub})), edges, groups, overlaps};
})()`

// readGraph reads the Overview page's flow graph.
func readGraph(b *browser) flowGraph {
	b.t.Helper()
	return eval[flowGraph](b, readGraphJS)
}

// node is the first box of kind whose name starts with prefix.
func (g flowGraph) node(kind, prefix string) (graphNode, bool) {
	for _, n := range g.Nodes {
		if n.Kind == kind && strings.HasPrefix(n.Name, prefix) {
			return n, true
		}
	}
	return graphNode{}, false
}

// nodes are the boxes of kind whose names start with prefix.
func (g flowGraph) nodes(kind, prefix string) []graphNode {
	var out []graphNode
	for _, n := range g.Nodes {
		if n.Kind == kind && strings.HasPrefix(n.Name, prefix) {
			out = append(out, n)
		}
	}
	return out
}

// arrow reports whether an arrow goes from box from to box to.
func (g flowGraph) arrow(from, to string) bool {
	for _, e := range g.Edges {
		if e.From == from && e.To == to {
			return true
		}
	}
	return false
}

// group is the group frame with id (group:NAME).
func (g flowGraph) group(id string) (graphGroup, bool) {
	for _, x := range g.Groups {
		if x.ID == id {
			return x, true
		}
	}
	return graphGroup{}, false
}

// kindOf is the kind of the box id.
func (g flowGraph) kindOf(id string) string {
	for _, n := range g.Nodes {
		if n.ID == id {
			return n.Kind
		}
	}
	return ""
}

// wrongArrows are the arrows that do not go producer -> topic or topic ->
// consumer, or whose ends are not at boxes.
func (g flowGraph) wrongArrows() []string {
	var out []string
	for _, e := range g.Edges {
		from, to := g.kindOf(e.From), g.kindOf(e.To)
		if !(from == "producer" && to == "topic" || from == "topic" && to == "consumer") {
			out = append(out, fmt.Sprintf("%q (%s) -> %q (%s)", e.From, from, e.To, to))
		}
	}
	return out
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// nodeEl is the JavaScript expression of the graph's box id.
func nodeEl(id string) string {
	return `[...document.querySelectorAll('#graph g.node')].find((g) => g.dataset.id === ` + jsString(id) + `)`
}
