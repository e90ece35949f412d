// promqlcheck reads one PromQL expression per line on stdin and writes, per
// line, a JSON object: {"error": "..."} if Prometheus's own parser refuses it,
// else {"metrics": [...]} the metric names its selectors read. The tests use it
// to check the alert rules and the dashboard (promtool itself is too big to build).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"github.com/prometheus/prometheus/promql/parser"
)

func main() {
	lines := bufio.NewScanner(os.Stdin)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	promql := parser.NewParser(parser.Options{})
	for lines.Scan() {
		out := map[string]any{}
		expr, err := promql.ParseExpr(lines.Text())
		if err != nil {
			out["error"] = err.Error()
		} else {
			names := []string{}
			parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
				if selector, ok := node.(*parser.VectorSelector); ok {
					names = append(names, selector.Name)
				}
				return nil
			})
			out["metrics"] = names
		}
		encoded, _ := json.Marshal(out)
		fmt.Println(string(encoded))
	}
}
