// Package codelimits measures the size of the workbook's hand-written Go
// code: lines per file, lines per function and each function's cyclomatic
// complexity. Its test keeps them under the limits the team agreed on, so a
// file or a function that grows past them is split into named steps while
// it is still easy to.
package codelimits

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
)

// Limits are the sizes code may reach.
type Limits struct {
	FileLines  int // lines in one file
	FuncLines  int // lines from a function's signature to its closing brace
	Complexity int // cyclomatic complexity of one function
}

// Default are the limits the workbook keeps outside generated code.
var Default = Limits{FileLines: 500, FuncLines: 80, Complexity: 25}

// Finding is one file or function over a limit.
type Finding struct {
	Kind  string // "file lines", "function lines" or "complexity"
	Where string // path relative to the root, and the function's name
	Value int
	Limit int
}

func (f Finding) String() string {
	return fmt.Sprintf("%s: %s %d (limit %d)", f.Where, f.Kind, f.Value, f.Limit)
}

// Key names the finding without its value, for lists of known debts.
func (f Finding) Key() string { return f.Kind + " " + f.Where }

// Scan measures every hand-written .go file under root (generated files
// and node_modules, testdata and dot directories skipped) and returns the
// findings over l, largest first within each kind.
func Scan(root string, l Limits) ([]Finding, error) {
	var out []Finding
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata" || name == "third_party") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		found, err := scanFile(path, filepath.ToSlash(rel), l)
		out = append(out, found...)
		return err
	})
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Value > out[j].Value
	})
	return out, err
}

func scanFile(path, rel string, l Limits) ([]Finding, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	if ast.IsGenerated(f) {
		return nil, nil
	}
	var out []Finding
	if n := fset.File(f.Pos()).LineCount(); n > l.FileLines {
		out = append(out, Finding{"file lines", rel, n, l.FileLines})
	}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil {
			continue
		}
		where := rel + " " + funcName(fd)
		lines := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1
		if lines > l.FuncLines {
			out = append(out, Finding{"function lines", where, lines, l.FuncLines})
		}
		if c := Complexity(fd); c > l.Complexity {
			out = append(out, Finding{"complexity", where, c, l.Complexity})
		}
	}
	return out, nil
}

// funcName is Name, or Type.Name for a method.
func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	t := fd.Recv.List[0].Type
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
			continue
		case *ast.IndexExpr:
			t = x.X
			continue
		case *ast.IndexListExpr:
			t = x.X
			continue
		case *ast.Ident:
			return x.Name + "." + fd.Name.Name
		}
		return fd.Name.Name
	}
}

// Complexity is the cyclomatic complexity of a function the way gocyclo
// counts it: one, plus one for each if, for, range, non-default case or
// select clause, and each && or ||. Function literals inside count toward
// the function that holds them.
func Complexity(n ast.Node) int {
	c := 1
	ast.Inspect(n, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.IfStmt, *ast.ForStmt, *ast.RangeStmt:
			c++
		case *ast.CaseClause:
			if x.List != nil {
				c++
			}
		case *ast.CommClause:
			if x.Comm != nil {
				c++
			}
		case *ast.BinaryExpr:
			if x.Op == token.LAND || x.Op == token.LOR {
				c++
			}
		}
		return true
	})
	return c
}
