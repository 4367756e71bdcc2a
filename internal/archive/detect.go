package archive

import (
	"bufio"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sdworkbook/workbook/internal/apperr"
)

// entryPoints lists the ways the folder top can be built, in order of
// precedence, or refuses it when there is none.
func entryPoints(top string) ([]string, error) {
	var found []string
	if isFile(filepath.Join(top, "Dockerfile")) {
		if err := checkDockerfile(filepath.Join(top, "Dockerfile")); err != nil {
			return nil, err
		}
		found = append(found, LangDockerfile)
	}
	goMod := isFile(filepath.Join(top, "go.mod"))
	goMain := goMod && hasMainPackage(top)
	if goMain {
		found = append(found, LangGo)
	}
	if isFile(filepath.Join(top, "app.py")) {
		found = append(found, LangPython)
	}
	switch {
	case len(found) > 0:
		return found, nil
	case goMod:
		return nil, refusef("The archive has a go.mod but no .go file beside it in package main; the workbook builds the folder that holds go.mod.")
	}
	return nil, refusef("The archive has nothing to run: put a Dockerfile, a go.mod with a main package beside it, or an app.py at its top (or inside one folder).")
}

func isFile(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular()
}

// hasMainPackage reports whether a .go file (not a test) directly in dir
// declares package main.
func hasMainPackage(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		n := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, n), nil, parser.PackageClauseOnly)
		if err == nil && f.Name.Name == "main" {
			return true
		}
	}
	return false
}

// checkDockerfile refuses a Dockerfile without a FROM instruction: it
// cannot build on anything. Which base images are offered is the
// builder's to judge.
func checkDockerfile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 0 && strings.EqualFold(fields[0], "FROM") {
			return nil
		}
	}
	return refusef("The Dockerfile has no FROM line; start it from one of the offered base images.")
}

// Choose builds the archive as lang, which must be among what it holds;
// "" keeps the first found. A choice the archive does not bear out is an
// apperr naming the field "language".
func (s Summary) Choose(lang string) (Summary, error) {
	if lang == "" {
		return s, nil
	}
	if !slices.Contains(Languages, lang) {
		return s, languageErr("Choose Go, Python or your own Dockerfile.")
	}
	if !slices.Contains(s.Found, lang) {
		return s, languageErr(fmt.Sprintf("You chose %s, but the archive holds %s.", LanguageName(lang), holds(s.Found)))
	}
	s.Language = lang
	return s, nil
}

func languageErr(msg string) error {
	return &apperr.Error{Code: apperr.Invalid, Message: msg, Fields: map[string]string{"language": msg}}
}

// LanguageName is how a language reads in a sentence.
func LanguageName(lang string) string {
	switch lang {
	case LangGo:
		return "Go"
	case LangPython:
		return "Python"
	case LangDockerfile:
		return "your own Dockerfile"
	}
	return lang
}

func holds(found []string) string {
	var parts []string
	for _, l := range found {
		switch l {
		case LangDockerfile:
			parts = append(parts, "a Dockerfile")
		case LangGo:
			parts = append(parts, "a Go module with a main package")
		case LangPython:
			parts = append(parts, "a Python app.py")
		}
	}
	return strings.Join(parts, " and ")
}
