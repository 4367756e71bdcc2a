package sandbox

import (
	"strings"
	"testing"
)

var testOffered = offeredNames("workbook-local/go:1.24", "workbook-local/python:3.11")

var testLabels = map[string]string{"org.sdworkbook.job": "j1"}

// A learner's Dockerfile builds only on offered images or its own earlier
// stages, the official names become the offered images, every stage gets
// the job's labels, and anything else is refused with a sentence.
func TestCheckDockerfile(t *testing.T) {
	for _, c := range []struct {
		name, in string
		froms    []string // the FROM lines built, when accepted
		refused  string   // words of the refusal
	}{
		{"offered image", "FROM workbook-local/python:3.11\nCMD [\"python3\"]\n", []string{"FROM workbook-local/python:3.11"}, ""},
		{"official name", "from python:3.11\n", []string{"FROM workbook-local/python:3.11"}, ""},
		{"stages", "FROM golang:1.24 AS build\nRUN x\nFROM build\nFROM workbook-local/python:3.11 as run\nCOPY --from=build /a /b\nCOPY --from=0 /a /b\n",
			[]string{"FROM workbook-local/go:1.24 AS build", "FROM build", "FROM workbook-local/python:3.11 AS run"}, ""},
		{"continued FROM", "FROM \\\n  python:3.11 \\\n  AS app\nRUN echo \\\n hi\n", []string{"FROM workbook-local/python:3.11 AS app"}, ""},
		{"escape directive", "# escape=`\nFROM python:3.11 `\n  AS app\n", []string{"FROM workbook-local/python:3.11 AS app"}, ""},
		{"ARG first", "ARG X=1\nFROM python:3.11\n", []string{"FROM workbook-local/python:3.11"}, ""},
		{"not offered", "FROM debian:bookworm\n", nil, "which is not offered"},
		{"a variable", "ARG B=python:3.11\nFROM $B\n", nil, "which is not offered"},
		{"a platform", "FROM --platform=linux/arm64 python:3.11\n", nil, "has an option"},
		{"a later stage", "FROM app\nFROM python:3.11 AS app\n", nil, "which is not offered"},
		{"copy from an image", "FROM python:3.11\nCOPY --from=redis:7 /x /y\n", nil, "copies --from=redis:7"},
		{"copy from a later stage", "FROM python:3.11\nCOPY --from=1 /x /y\nFROM python:3.11\n", nil, "copies --from=1"},
		{"onbuild", "FROM python:3.11\nONBUILD RUN x\n", nil, "ONBUILD"},
		{"no FROM", "RUN echo\n", nil, "must start with FROM"},
		{"empty", "# nothing\n", nil, "has no FROM line"},
		{"three words", "FROM python:3.11 AS\n", nil, "is not FROM IMAGE"},
	} {
		out, err := checkDockerfile(c.in, testOffered, testLabels)
		if c.refused != "" {
			le, ok := err.(*LearnerError)
			if !ok || !strings.Contains(le.Reason, c.refused) {
				t.Errorf("%s: %v, want a refusal with %q", c.name, err, c.refused)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		var froms []string
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "FROM ") {
				froms = append(froms, l)
			}
		}
		if strings.Join(froms, "|") != strings.Join(c.froms, "|") || strings.Count(out, "LABEL org.sdworkbook.job=\"j1\"") != len(c.froms) {
			t.Errorf("%s: built\n%s", c.name, out)
		}
	}
}

// Any Dockerfile is accepted or refused with a LearnerError, without a
// panic; an accepted one builds only FROM offered images or earlier
// stages, each followed by the labels.
func FuzzCheckDockerfile(f *testing.F) {
	for _, s := range []string{"FROM python:3.11\n", "FROM golang:1.24 AS b\nFROM b\nCOPY --from=b / /\n", "# escape=`\nFROM `\npython:3.11\n",
		"ARG X\nFROM $X\n", "FROM \\\n", "\r\nFROM python:3.11\r\n", "from\tpython:3.11\tas\tx\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := checkDockerfile(in, testOffered, testLabels)
		if err != nil {
			if _, ok := err.(*LearnerError); !ok {
				t.Fatalf("not a LearnerError: %v", err)
			}
			return
		}
		var stages []string
		for _, in := range instructions(strings.Split(out, "\n")) {
			if in.keyword != "FROM" {
				continue
			}
			f := strings.Fields(in.args)
			if _, ok := testOffered[strings.ToLower(f[0])]; !ok && !contains(stages, strings.ToLower(f[0])) {
				t.Fatalf("built FROM %q:\n%s", f[0], out)
			}
			if len(f) == 3 {
				stages = append(stages, strings.ToLower(f[2]))
			}
		}
		if strings.Count(out, "LABEL org.sdworkbook.job") < len(stages) {
			t.Fatalf("a stage without labels:\n%s", out)
		}
	})
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
