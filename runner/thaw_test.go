package runner

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestThawsGoThroughThaw: every thaw of a container in this package goes through thaw, which
// tells the container's health monitor that it runs again (markHealthUnpaused), so that no
// path (unpause, a kill's, a foreground run's for a signal, one added later) leaves the checks
// on the schedule the pause interrupted. A foreground run's thaw called the cgroup's Thaw
// itself, and its checks went on at the start interval after it.
func TestThawsGoThroughThaw(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	found := false
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "Thaw" {
					return true
				}
				if fn.Recv == nil && fn.Name.Name == "thaw" {
					found = true
				} else {
					t.Errorf("%s: %s calls Thaw itself; thaw a container with thaw(c, cg), which tells its health monitor", fset.Position(call.Pos()), fn.Name.Name)
				}
				return true
			})
		}
	}
	if !found {
		t.Error("thaw calls no Thaw: the test no longer sees the thaws")
	}
}
