package web

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"io"
	"mime/multipart"
	"net/http"
	"testing"
	"testing/fstest"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/limiter"
)

const testBuildExercise = "limiter-intake-build"

// buildLab is the limiter lab with one more exercise, a build exercise of
// the tests' own: a contract, starter kits in both languages and one check.
type buildLab struct{ labs.Lab }

func (b buildLab) Exercises() []labs.Exercise {
	return append(labs.ExercisesOf(b.Lab), labs.Exercise{
		ID: testBuildExercise, Lab: "limiter", Title: "Build a limiter of your own",
		Card: []string{"At most QUOTA_LIMIT requests per key per window, across replicas."},
		Checks: []labs.Check{{Name: "limit holds", Requirement: "no more than the quota is admitted", Points: 10,
			Run: func(context.Context, *labs.Trial) labs.Outcome { return labs.Fail("not graded in these tests") }}},
		Build: &labs.Build{Replicas: 3, Redis: true, Env: map[string]string{"QUOTA_LIMIT": "10", "QUOTA_WINDOW_MS": "1000"},
			Contract: []string{"- `POST /request?key=K` answers **200** or 429 with `Retry-After`.", "- `GET /healthz` answers 200."},
			Starters: fstest.MapFS{
				"go/go.mod":       {Data: []byte("module example.com/limiter\n\ngo 1.24\n")},
				"go/main.go":      {Data: []byte("package main\n\nfunc main() {}\n")},
				"go/README.md":    {Data: []byte("Notes of the Go kit.\n")},
				"python/app.py":   {Data: []byte("print('limiter')\n")},
				"python/store.py": {Data: []byte("# the store\n")},
			}},
	})
}

// buildLabs are the labs of a test app that takes build submissions.
var buildLabs = []labs.Lab{buildLab{limiter.Lab}}

// zipOf is a zip of files: name, body, name, body…
func zipOf(tb testing.TB, kv ...string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for i := 0; i+1 < len(kv); i += 2 {
		f, err := w.Create(kv[i])
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := io.WriteString(f, kv[i+1]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// tarGzWithLink is a .tar.gz holding app.py and a link to /etc/passwd.
func tarGzWithLink(tb testing.TB) []byte {
	tb.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	body := "print(1)\n"
	for _, h := range []*tar.Header{
		{Name: "app.py", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))},
		{Name: "passwd", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"},
	} {
		if err := tw.WriteHeader(h); err != nil {
			tb.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			_, _ = io.WriteString(tw, body)
		}
	}
	_ = tw.Close()
	_ = gz.Close()
	return buf.Bytes()
}

// multipartBody is a form of fields and, unless archive is nil, the file
// archive.
func multipartBody(tb testing.TB, fields map[string]string, archive []byte) (io.Reader, string) {
	tb.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			tb.Fatal(err)
		}
	}
	if archive != nil {
		f, err := w.CreateFormFile("archive", "service.zip")
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := f.Write(archive); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return &buf, w.FormDataContentType()
}

// upload posts a multipart form to path as the page's form would (same
// origin), or as a script's API call when api.
func (b *browser) upload(path string, fields map[string]string, archive []byte, api bool) *http.Response {
	b.tb.Helper()
	body, ct := multipartBody(b.tb, fields, archive)
	req, _ := http.NewRequest(http.MethodPost, b.base+path, body)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if api {
		req.Header.Set("Accept", "application/json")
	} else {
		req.Header.Set("Origin", b.base)
	}
	return b.do(req)
}

const (
	pyService = "import os\nprint('serving on', os.environ.get('PORT'))\n"
	goMod     = "module example.com/svc\n\ngo 1.24\n"
	goMain    = "package main\n\nfunc main() {}\n"
)

// noJob stands in for the queue when a test stores a submission itself.
func noJob(context.Context, *sql.Tx) (int64, error) { return 0, nil }
