package sandbox_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/sandbox"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// writeDir writes files into a new directory.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const okApp = `import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
http.server.HTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()
`

// buildCase is a submission and how its build must end: reason is "" for
// a build that succeeds, else words the LearnerError's reason holds, and
// log words its build log holds.
type buildCase struct {
	name, lang   string
	files        map[string]string
	reason, log  string
	timeoutShort bool
}

var buildCases = []buildCase{
	{name: "Go that does not compile", lang: sandbox.LangGo, files: map[string]string{
		"go.mod": "module example.com/bad\n\ngo 1.24\n", "main.go": "package main\n\nfunc main() { undefinedThing() }\n"},
		reason: "did not build: the step go build -trimpath -o /app/service . ended with exit code 1", log: "undefined: undefinedThing"},
	{name: "Go needing a newer toolchain", lang: sandbox.LangGo, files: map[string]string{
		"go.mod": "module example.com/new\n\ngo 1.30\n", "main.go": "package main\n\nfunc main() {}\n"},
		reason: "did not build", log: "go.mod requires go >= 1.30"},
	{name: "Go fetching a module", lang: sandbox.LangGo, files: map[string]string{
		"go.mod":  "module example.com/fetch\n\ngo 1.24\n\nrequire github.com/google/uuid v1.6.0\n",
		"main.go": "package main\n\nimport \"github.com/google/uuid\"\n\nfunc main() { _ = uuid.New() }\n"},
		reason: "did not build", log: "GOPROXY=off"},
	{name: "Python with a syntax error", lang: sandbox.LangPython, files: map[string]string{"app.py": "def f(:\n"},
		reason: "did not build: the step python3 -m compileall -q . ended with exit code 1", log: "SyntaxError"},
	{name: "Python without app.py", lang: sandbox.LangPython, files: map[string]string{"main.py": okApp},
		reason: "Your Python sources need app.py at the top of the archive"},
	{name: "no Dockerfile and no language", files: map[string]string{"app.py": okApp},
		reason: "no Dockerfile at its top"},
	{name: "a base image not offered", files: map[string]string{"Dockerfile": "FROM debian:bookworm\nCOPY . /app\n"},
		reason: "builds FROM debian:bookworm, which is not offered: build on workbook-local/go:1.24 or workbook-local/python:3.11"},
	{name: "copying from another image", files: map[string]string{"Dockerfile": "FROM python:3.11\nCOPY --from=workbook-local/postgres:15 /etc/passwd /x\n"},
		reason: "copies --from=workbook-local/postgres:15"},
	{name: "the internet at build time", files: map[string]string{
		"Dockerfile": "FROM python:3.11\nRUN python3 -c \"import socket; socket.create_connection(('1.1.1.1', 80), 3)\"\n"},
		reason: "did not build", log: "Network is unreachable"},
	{name: "too much build output", files: map[string]string{
		"Dockerfile": "FROM python:3.11\nRUN python3 -c \"[print('y' * 1000) for _ in range(20000)]\"\n"},
		reason: "wrote more than 8.0 MiB of output", log: "were cut"},
	{name: "a Dockerfile Docker cannot read", files: map[string]string{"Dockerfile": "FROM python:3.11\nFOR x IN y\n"},
		reason: "Docker could not read your Dockerfile: dockerfile parse error line 3: unknown instruction: FOR"},
	{name: "a build that takes too long", timeoutShort: true, files: map[string]string{
		"Dockerfile": "FROM python:3.11\nRUN sleep 60\n"},
		reason: "did not finish building within 10s"},
	{name: "official names, multi-stage", files: map[string]string{
		"Dockerfile": "FROM golang:1.24 AS tools\nRUN go version > /version\nFROM python:3.11\nCOPY --from=tools /version /version\nCOPY app.py /app.py\nCMD [\"python3\", \"/app.py\"]\n",
		"app.py":     okApp}},
}

// Builds end with the learner's reason and the build's log when the
// learner's sources are at fault (they do not compile, need the network,
// name an image that is not offered, write too much, take too long), and
// with an image otherwise; no build leaves anything labelled for its job.
func TestBuildFailuresAreTheLearners(t *testing.T) {
	t.Parallel() // each mostly waits on containers
	e := labtest.Sandbox(t)
	var quick *sandbox.Engine
	for _, c := range buildCases {
		t.Run(c.name, func(t *testing.T) {
			eng := e
			if c.timeoutShort {
				if quick == nil {
					quick = sandboxWith(t, sandbox.Options{BuildTimeout: 10 * time.Second})
				}
				eng = quick
			}
			job := labtest.JobID(t)
			img, err := eng.Build(context.Background(), job, sandbox.Source{Dir: writeDir(t, c.files), Language: c.lang})
			defer assertNothingLeft(t, job)
			if c.reason == "" {
				if err != nil {
					t.Fatalf("build failed: %v\n%s", err, img.Log)
				}
				removeImage(t, eng, job, img)
				return
			}
			var le *sandbox.LearnerError
			if !errors.As(err, &le) {
				t.Fatalf("want the learner's failure, got %v", err)
			}
			if !strings.Contains(le.Reason, c.reason) || !strings.Contains(le.Log, c.log) {
				t.Errorf("reason %q\nlog (end):\n%s", le.Reason, tailOf(le.Log, 600))
			}
			t.Logf("%s: %s", c.name, le.Reason)
		})
	}
}

// removeImage removes a built image through a job's Close.
func removeImage(t *testing.T, e *sandbox.Engine, job string, img sandbox.Image) {
	t.Helper()
	j, err := e.StartJob(context.Background(), sandbox.JobSpec{ID: job, Image: img})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func tailOf(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// sandboxWith is an engine with options o beside the test environment's
// images.
func sandboxWith(t *testing.T, o sandbox.Options) *sandbox.Engine {
	t.Helper()
	labtest.Sandbox(t) // skips without Docker
	o.GoImage, o.PythonImage = os.Getenv("WORKBOOK_GO_IMAGE"), os.Getenv("WORKBOOK_PYTHON_IMAGE")
	o.RedisImage, o.PostgresImage = os.Getenv("WORKBOOK_REDIS_IMAGE"), os.Getenv("WORKBOOK_POSTGRES_IMAGE")
	e, err := sandbox.New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}
