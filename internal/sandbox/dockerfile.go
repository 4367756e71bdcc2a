package sandbox

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// The languages the workbook writes the Dockerfile for.
const (
	LangGo     = "go"
	LangPython = "python"
)

// aliases are the official images' names a learner may write in a
// Dockerfile for the offered ones (so a Dockerfile that builds on the
// learner's own machine builds here too), by language.
var aliases = map[string][]string{
	LangGo:     {"golang:1.24", "docker.io/library/golang:1.24", "library/golang:1.24"},
	LangPython: {"python:3.11", "docker.io/library/python:3.11", "library/python:3.11"},
}

// supplied is the Dockerfile the workbook writes for plain sources of lang
// on base image base: Go builds the module at the archive's top with
// go build (offline, from the image's module and build caches); Python
// compiles every file first so a syntax error is a build failure.
func supplied(lang, base string) (string, error) {
	switch lang {
	case LangGo:
		return "FROM " + base + `
WORKDIR /src
COPY . .
RUN go build -trimpath -o /app/service .
ENV GOCACHE=/tmp/gocache PORT=8080
USER 65534:65534
ENTRYPOINT ["/app/service"]
`, nil
	case LangPython:
		return "FROM " + base + `
WORKDIR /app
COPY . .
RUN python3 -m compileall -q .
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PORT=8080
USER 65534:65534
ENTRYPOINT ["python3", "-u", "app.py"]
`, nil
	}
	return "", fmt.Errorf("sandbox: no Dockerfile for language %q", lang)
}

// entryFile is the file plain sources of lang must have at their top.
var entryFile = map[string]string{LangGo: "go.mod", LangPython: "app.py"}

// instruction is one logical line of a Dockerfile: its first physical
// line's index, its last's, its keyword (upper case) and its arguments.
type instruction struct {
	first, last int
	keyword     string
	args        string
}

// instructions splits a Dockerfile into logical lines, joining lines that
// end with the escape character and skipping comments and blank lines.
func instructions(lines []string) []instruction {
	escape := `\`
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if !strings.HasPrefix(t, "#") {
			break // parser directives come first
		}
		d := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(t, "#"), " ", ""))
		if v, ok := strings.CutPrefix(d, "escape="); ok && v == "`" {
			escape = "`"
		}
	}
	var out []instruction
	var cur *instruction
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if cur == nil && (t == "" || strings.HasPrefix(t, "#")) {
			continue
		}
		if cur != nil && strings.HasPrefix(t, "#") {
			continue // comments inside a continued line
		}
		cont := strings.HasSuffix(t, escape)
		t = strings.TrimSuffix(t, escape)
		if cur == nil {
			kw, args, _ := strings.Cut(t, " ")
			if strings.Contains(kw, "\t") {
				kw, args, _ = strings.Cut(t, "\t")
			}
			cur = &instruction{first: i, keyword: strings.ToUpper(kw), args: strings.TrimSpace(args)}
		} else {
			cur.args = strings.TrimSpace(cur.args + " " + t)
		}
		cur.last = i
		if !cont {
			out = append(out, *cur)
			cur = nil
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	return out
}

// checkDockerfile checks a learner's Dockerfile and returns the one to
// build: every FROM must name an offered image (or an official name of
// one, rewritten to it) or an earlier stage, every COPY --from an earlier
// stage or an offered image, and every stage carries labels (so what the
// build leaves behind is found by label). The error is a LearnerError.
func checkDockerfile(text string, offered map[string]string, labels map[string]string) (string, error) {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	allowed := slices.Sorted(maps.Values(offered))
	allowed = slices.Compact(allowed)
	var stages []string
	replace := map[int]string{} // first line → its new logical line
	drop := map[int]bool{}      // continuation lines of a replaced one
	labelLine := labelInstruction(labels)
	froms := 0
	for _, in := range instructions(lines) {
		switch in.keyword {
		case "FROM":
			line, stage, err := checkFrom(in.args, stages, offered, allowed)
			if err != nil {
				return "", err
			}
			stages = append(stages, stage)
			replace[in.first] = line + "\n" + labelLine
			for i := in.first + 1; i <= in.last; i++ {
				drop[i] = true
			}
			froms++
		case "COPY", "ADD":
			if err := checkCopyFrom(in.args, stages, offered); err != nil {
				return "", err
			}
		case "ONBUILD":
			return "", learnerf("", "Your Dockerfile uses ONBUILD, which the workbook does not build.")
		default:
			if froms == 0 && in.keyword != "ARG" {
				return "", learnerf("", "Your Dockerfile must start with FROM (one of %s).", strings.Join(allowed, ", "))
			}
		}
	}
	if froms == 0 {
		return "", learnerf("", "Your Dockerfile has no FROM line: start it with FROM and one of %s.", strings.Join(allowed, ", "))
	}
	var b strings.Builder
	for i, l := range lines {
		if drop[i] {
			continue
		}
		if r, ok := replace[i]; ok {
			l = r
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// checkFrom checks a FROM's arguments and returns the line to build and
// the stage's name ("" when unnamed).
func checkFrom(args string, stages []string, offered map[string]string, allowed []string) (line, stage string, err error) {
	f := strings.Fields(args)
	if len(f) > 0 && strings.HasPrefix(f[0], "--") {
		return "", "", learnerf("", "Your Dockerfile's FROM %s has an option (%s), which the workbook does not build: write FROM with one of %s.", args, f[0], strings.Join(allowed, ", "))
	}
	switch {
	case len(f) == 1:
	case len(f) == 3 && strings.EqualFold(f[1], "as"):
		stage = strings.ToLower(f[2])
	default:
		return "", "", learnerf("", "Your Dockerfile's line FROM %s is not FROM IMAGE or FROM IMAGE AS NAME.", args)
	}
	image := f[0]
	if img, ok := offered[strings.ToLower(image)]; ok {
		image = img
	} else if !slices.Contains(stages, strings.ToLower(image)) || image == "" {
		return "", "", learnerf("", "Your Dockerfile builds FROM %s, which is not offered: build on %s (or on an earlier stage of your Dockerfile).", f[0], strings.Join(allowed, " or "))
	}
	line = "FROM " + image
	if stage != "" {
		line += " AS " + stage
	}
	return line, stage, nil
}

// checkCopyFrom refuses COPY --from=X unless X is an earlier stage (by
// name or number) or an offered image: anything else would read another
// image on the grader's host.
func checkCopyFrom(args string, stages []string, offered map[string]string) error {
	for _, f := range strings.Fields(args) {
		if !strings.HasPrefix(f, "--") {
			break
		}
		v, ok := strings.CutPrefix(f, "--from=")
		if !ok {
			continue
		}
		v = strings.ToLower(v)
		if n, err := strconv.Atoi(v); err == nil && n >= 0 && n < len(stages) {
			continue
		}
		if slices.Contains(stages, v) && v != "" {
			continue
		}
		if _, ok := offered[v]; ok {
			continue
		}
		return learnerf("", "Your Dockerfile copies --from=%s, which is neither an earlier stage nor an offered image.", v)
	}
	return nil
}

// offeredNames maps every name a learner may build FROM (lower case) to
// the image it means.
func offeredNames(goImage, pythonImage string) map[string]string {
	m := map[string]string{strings.ToLower(goImage): goImage, strings.ToLower(pythonImage): pythonImage}
	for _, a := range aliases[LangGo] {
		m[a] = goImage
	}
	for _, a := range aliases[LangPython] {
		m[a] = pythonImage
	}
	return m
}

// labelInstruction is a LABEL instruction setting labels.
func labelInstruction(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("LABEL")
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, strconv.Quote(labels[k]))
	}
	return b.String()
}
