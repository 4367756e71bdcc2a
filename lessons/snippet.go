package lessons

import "strings"

// WrapSnippet turns a fenced Go block into a compilable file: a block that
// starts with a package clause is taken as is; one without gets "package
// lesson"; a "go fragment" block has its leading imports lifted out and the
// rest wrapped in a function body.
func WrapSnippet(b CodeBlock) string {
	code := b.Code
	if strings.HasPrefix(strings.TrimSpace(code), "package ") {
		return code
	}
	if !strings.Contains(" "+b.Info+" ", " fragment ") {
		return "package lesson\n\n" + code
	}
	var imports, body []string
	inBody := false
	inImportBlock := false
	for _, line := range strings.Split(code, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case inBody:
			body = append(body, line)
		case inImportBlock:
			imports = append(imports, line)
			if t == ")" {
				inImportBlock = false
			}
		case strings.HasPrefix(t, "import ("):
			imports = append(imports, line)
			inImportBlock = true
		case strings.HasPrefix(t, "import "):
			imports = append(imports, line)
		case t == "" || strings.HasPrefix(t, "//"):
			imports = append(imports, line)
		default:
			inBody = true
			body = append(body, line)
		}
	}
	return "package lesson\n\n" + strings.Join(imports, "\n") + "\n\nfunc _() {\n" + strings.Join(body, "\n") + "\n}\n"
}
