package grader_test

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sdworkbook/workbook/grader"
	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
)

// buildProbe is the probe lab with a build exercise beside its design one.
type buildProbe struct{ testLab }

func (b buildProbe) Exercises() []labs.Exercise {
	return append(b.testLab.Exercises(), labs.Exercise{ID: "probe-build", Lab: "probe", Title: "Build a probe",
		Checks: []labs.Check{{Name: "answers", Requirement: "it answers", Points: 5}},
		Build:  &labs.Build{Replicas: 1, Redis: true, Contract: []string{"`GET /alive` answers 200."}}})
}

func zipped(tb testing.TB, kv ...string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for i := 0; i+1 < len(kv); i += 2 {
		f, _ := w.Create(kv[i])
		_, _ = f.Write([]byte(kv[i+1]))
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// A build submission is stored with its archive and the language it is
// built as, the learner's choice among what the archive holds; the worker
// unpacks it as it was sent. A design sent to a build exercise, or an
// archive to a design exercise, is refused naming the field.
func TestSubmitBuildAndUnpack(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			r := MustRig(t, b, grader.Options{Environment: grader.EnvEmbedded}, buildProbe{})
			data := zipped(t, "svc/Dockerfile", "FROM workbook-local/go:1.24\n", "svc/go.mod", "module x\n\ngo 1.24\n",
				"svc/main.go", "package main\n\nfunc main() {}\n")
			sub, err := r.g.SubmitBuild(ctx, r.user, "probe", "", "go", " built in Go ", data)
			if err != nil {
				t.Fatal(err)
			}
			if sub.Exercise != "probe-build" || sub.Design != `{"language":"go"}` || sub.Notes != "built in Go" || sub.MaxScore != 5 {
				t.Fatalf("stored %+v", sub)
			}
			dst := filepath.Join(t.TempDir(), "src")
			lang, err := r.g.UnpackArchive(ctx, sub.ID, dst)
			if err != nil || lang != "go" {
				t.Fatalf("unpacked as %q: %v", lang, err)
			}
			if b, err := os.ReadFile(filepath.Join(dst, "main.go")); err != nil || string(b) != "package main\n\nfunc main() {}\n" {
				t.Fatalf("main.go unpacked: %q %v", b, err)
			}
			res, err := r.g.Submission(ctx, sub.ID, r.user)
			if err != nil || res.Kind != labs.KindBuild || res.Archive == nil || res.Archive.Language != "go" || res.BuildLog == nil {
				t.Fatalf("result %+v %v", res, err)
			}

			_, err = r.g.Submit(ctx, r.user, "probe", grader.Request{Exercise: "probe-build", Design: []byte(`{}`)})
			if e, ok := apperr.As(err); !ok || e.Fields["archive"] == "" {
				t.Errorf("a design for a build exercise: %v", err)
			}
			_, err = r.g.SubmitBuild(ctx, r.user, "probe", "probe-basic", "", "", data)
			if e, ok := apperr.As(err); !ok || e.Fields["exercise"] == "" {
				t.Errorf("an archive for a design exercise: %v", err)
			}
			// Without a name, a design goes to the design exercise.
			d := r.submit(t, "probe", map[string]any{"quality": "good"})
			if d.Exercise != "probe-basic" {
				t.Errorf("a design without an exercise went to %q", d.Exercise)
			}
		})
	}
}
