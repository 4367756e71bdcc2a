package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/sdworkbook/workbook/internal/testenv"
)

// BenchmarkPages measures page handlers in-process against a baseline
// measured in the same run: net/http's file server sending the same lesson
// HTML from a file. Compare ns/op of each sub-benchmark with "static-file".
//
//	go test ./web -run '^$' -bench Pages -benchtime 2s
func BenchmarkPages(b *testing.B) {
	a := MustStart(b, testenv.Backend{Name: "embedded", DataDir: b.TempDir()}, nil)
	signedIn := MustRegister(b, a, "bench@example.org")
	cookie := signedIn.cookie("workbook_session")

	// The baseline: the anonymous lesson page's bytes, served as a file.
	rec := httptest.NewRecorder()
	a.app.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/lessons/cap", nil))
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cap.html"), rec.Body.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Logf("lesson page weight: %d bytes of HTML", rec.Body.Len())
	files := http.FileServer(http.Dir(dir))

	run := func(name string, h http.Handler, path string, withCookie bool) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest(http.MethodGet, path, nil)
					if withCookie {
						r.AddCookie(cookie)
					}
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						b.Fatalf("%s: %d", path, w.Code)
					}
					_, _ = io.Copy(io.Discard, w.Body)
				}
			})
		})
	}
	run("static-file", files, "/cap.html", false)
	run("lesson-anonymous", a.app, "/lessons/cap", false)
	run("lesson-signed-in", a.app, "/lessons/cap", true)
	run("home-anonymous", a.app, "/", false)
}
