package lessons

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/redis"
	"github.com/sdworkbook/workbook/internal/sqlopen"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/all"
	"github.com/sdworkbook/workbook/labs/labhttp"
)

// labVocabulary is what a "Try it in the lab" step may name of one lab:
// its design fields (with their options and ranges) and its routes.
type labVocabulary struct {
	fields map[string]labs.Field
	values map[string]bool // every option of every enum field
	routes []labhttp.Route
}

var (
	// A lab link, or a code span.
	tryToken   = regexp.MustCompile("\\(/labs/([a-z0-9]+)\\)|`([^`]+)`")
	tryRoute   = regexp.MustCompile(`^(GET|POST|PUT|PATCH|DELETE) (/[^\s?]*)`)
	tryField   = regexp.MustCompile(`^([a-z][a-z0-9_]*): (.+)$`)
	tryBareArg = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// checkTryIt returns what text names that its lab does not have: a design
// field, an option value, a value out of range, or a route. The lab of a
// span is the lab linked last before it ([the breaker lab](/labs/breaker)).
// Code spans of other shapes (commands, JSON, SQL) are not the labs'.
func checkTryIt(text string, vocab map[string]labVocabulary) []string {
	var bad []string
	lab := ""
	for _, m := range tryToken.FindAllStringSubmatch(text, -1) {
		if m[1] != "" {
			lab = m[1]
			continue
		}
		span := strings.TrimSpace(m[2])
		v, ok := vocab[lab]
		if !ok {
			if tryRoute.MatchString(span) || tryField.MatchString(span) {
				bad = append(bad, fmt.Sprintf("`%s` names no lab's control: no known lab is linked before it", span))
			}
			continue
		}
		if p := v.check(span); p != "" {
			bad = append(bad, fmt.Sprintf("%s lab: `%s`: %s", lab, span, p))
		}
	}
	return bad
}

// check says what is wrong with one code span, or "".
func (v labVocabulary) check(span string) string {
	if m := tryRoute.FindStringSubmatch(span); m != nil {
		if !v.hasRoute(m[1], m[2]) {
			return "no such route"
		}
		return ""
	}
	if tryField.MatchString(span) {
		for part := range strings.SplitSeq(span, ", ") {
			m := tryField.FindStringSubmatch(part)
			if m == nil {
				return fmt.Sprintf("%q is not field: value", part)
			}
			if p := v.checkValue(m[1], m[2]); p != "" {
				return p
			}
		}
		return ""
	}
	if tryBareArg.MatchString(span) && v.fields[span].Name == "" && !v.values[span] {
		return "neither a design field nor an option"
	}
	return ""
}

func (v labVocabulary) checkValue(name, value string) string {
	f, ok := v.fields[name]
	if !ok {
		return fmt.Sprintf("no design field %q", name)
	}
	switch f.Type {
	case labs.Enum:
		if !slices.Contains(f.Options, value) {
			return fmt.Sprintf("%s has no option %q (it has %v)", name, value, f.Options)
		}
	case labs.Bool:
		if value != "true" && value != "false" {
			return fmt.Sprintf("%s takes true or false", name)
		}
	default:
		n, err := strconv.ParseFloat(value, 64)
		if err != nil || (f.Type == labs.Int && n != float64(int64(n))) {
			return fmt.Sprintf("%s takes a number, not %q", name, value)
		}
		if (f.Min != nil && n < *f.Min) || (f.Max != nil && n > *f.Max) {
			return fmt.Sprintf("%s = %v is out of its range", name, n)
		}
	}
	return ""
}

// hasRoute says whether the lab serves method and path; a {name} of a
// route's pattern matches any one segment, and a path may name it as is.
func (v labVocabulary) hasRoute(method, path string) bool {
	segs := strings.Split(path, "/")
	for _, r := range v.routes {
		want := strings.Split(r.Pattern, "/")
		if r.Method != method || len(want) != len(segs) {
			continue
		}
		match := true
		for i, w := range want {
			wild := strings.HasPrefix(w, "{") && strings.HasSuffix(w, "}")
			if !(w == segs[i] || wild && segs[i] != "") {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// registryVocabulary builds every lab's vocabulary from the registry: the
// fields each lab declares, and the routes an instance of its default
// design serves, on the embedded Redis and SQLite.
func registryVocabulary(t *testing.T) map[string]labVocabulary {
	t.Helper()
	ctx := context.Background()
	rc, err := redis.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	db, dialect, err := sqlopen.Open(ctx, sqlopen.Options{SQLitePath: filepath.Join(t.TempDir(), "labs.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	out := map[string]labVocabulary{}
	for _, l := range all.Registry().Labs() {
		id := l.Info().ID
		v := labVocabulary{fields: map[string]labs.Field{}, values: map[string]bool{}}
		for _, f := range l.Fields() {
			v.fields[f.Name] = f
			for _, o := range f.Options {
				v.values[o] = true
			}
		}
		d, errs := labs.Validate(l, map[string]any{})
		if len(errs) > 0 {
			t.Fatalf("%s: default design: %v", id, errs)
		}
		m := labs.NewMetrics(time.Now)
		env := labs.Env{Redis: rc.Client, DB: db, Dialect: string(dialect), Instance: "tryit" + id, Prefix: "lab:tryit" + id + ":",
			Metrics: m, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}
		inst, err := l.New(ctx, env, d)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		v.routes = labs.RoutesOf(inst)
		if err := inst.Close(ctx); err != nil {
			t.Errorf("%s: close: %v", id, err)
		}
		m.Close()
		if len(v.routes) == 0 {
			t.Fatalf("%s: its instance lists no routes", id)
		}
		out[id] = v
	}
	return out
}

// tryItTexts returns the "Try it in the lab" sections of the lessons and
// the "Try it" paragraphs of the questions, by file.
func tryItTexts(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, dir := range []string{"lessons", "questions"} {
		files, err := fs.Glob(Embedded(), dir+"/*.md")
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			raw, err := fs.ReadFile(Embedded(), f)
			if err != nil {
				t.Fatal(err)
			}
			if s := tryItOf(string(raw)); s != "" {
				out[f] = s
			}
		}
	}
	return out
}

// tryItOf cuts the "## Try it in the lab" section (to the next heading of
// its level) and any paragraph that starts "Try it" out of a page.
func tryItOf(page string) string {
	var b strings.Builder
	in := false
	for line := range strings.SplitSeq(page, "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			in = strings.HasPrefix(line, "## Try it")
		case in, strings.HasPrefix(line, "Try it"):
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// Every control a "Try it" step names is one its lab has.
func TestTryItNamesOnlyWhatTheLabsHave(t *testing.T) {
	vocab := registryVocabulary(t)
	texts := tryItTexts(t)
	if len(texts) < 10 {
		t.Fatalf("found %d Try it texts; the extractor is broken", len(texts))
	}
	named := 0
	for f, text := range texts {
		named += len(tryToken.FindAllString(text, -1))
		for _, p := range checkTryIt(text, vocab) {
			t.Errorf("%s: %s", f, p)
		}
	}
	if named < 40 {
		t.Errorf("the Try it texts name only %d labs and controls; the checker sees too little", named)
	}
}

// The checker itself finds made-up fields, options, values and routes.
func TestTryItChecker(t *testing.T) {
	lo, hi := labs.Range(0, 10)
	vocab := map[string]labVocabulary{"breaker": {
		fields: map[string]labs.Field{
			"retries": {Name: "retries", Type: labs.Int, Min: lo, Max: hi},
			"backoff": {Name: "backoff", Type: labs.Enum, Options: []string{"none", "full_jitter"}},
			"hedge":   {Name: "hedge", Type: labs.Bool},
		},
		values: map[string]bool{"none": true, "full_jitter": true},
		routes: []labhttp.Route{{Method: "PUT", Pattern: "/downstream"}, {Method: "GET", Pattern: "/orders/{id}"}},
	}}
	good := "In the [breaker lab](/labs/breaker), set `retries: 3`, `backoff: full_jitter, hedge: true`, " +
		"send `PUT /downstream {\"outage\": true}` and `GET /orders/o17?x=1`, compare `full_jitter` with `none`; `XPENDING` and `{\"a\": 1}` are not controls."
	if bad := checkTryIt(good, vocab); len(bad) > 0 {
		t.Errorf("a correct text: %v", bad)
	}
	for _, text := range []string{
		"[lab](/labs/breaker) `retry_cap: 3`",           // made-up field
		"[lab](/labs/breaker) `backoff: linear`",        // made-up option
		"[lab](/labs/breaker) `retries: 11`",            // out of range
		"[lab](/labs/breaker) `retries: many`",          // not a number
		"[lab](/labs/breaker) `hedge: yes`",             // not a bool
		"[lab](/labs/breaker) `POST /downstream`",       // wrong method
		"[lab](/labs/breaker) `PUT /breaker`",           // made-up route
		"[lab](/labs/breaker) `GET /orders`",            // missing segment
		"[lab](/labs/breaker) `jitter_kind`",            // a bare made-up field
		"[lab](/labs/breaker) `retries: 1, cap: 2`",     // one of two made up
		"`retries: 3` before any lab is linked",         // no lab
		"[lab](/labs/nosuch) `PUT /downstream` unknown", // unknown lab
	} {
		if bad := checkTryIt(text, vocab); len(bad) != 1 {
			t.Errorf("%q: got %v, want one problem", text, bad)
		}
	}
}
