package web

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs/limiter"
)

// BenchmarkPages measures page handlers in-process against a baseline
// measured in the same run: net/http's file server sending the same lesson
// HTML from a file. Compare ns/op of each sub-benchmark with "static-file".
//
//	go test ./web -run '^$' -bench Pages -benchtime 2s
func BenchmarkPages(b *testing.B) {
	a := MustStartLabs(b, testenv.Backend{Name: "embedded", DataDir: b.TempDir()}, nil, limiter.Lab)
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
	for _, path := range []string{"/lessons", "/progress", "/review", "/labs/limiter", "/questions"} {
		run("signed-in"+strings.ReplaceAll(path, "/", "-"), a.app, path, true)
	}
}

// BenchmarkGradebook measures an instructor's gradebook page for a class of
// 100 learners with two assignments, each learner with three graded
// submissions and a quiz attempt, against the signed-in lesson page in the
// same run (session lookup and progress reads: the cheapest page that
// touches the database).
//
//	go test ./web -run '^$' -bench Gradebook -benchtime 2s
func BenchmarkGradebook(b *testing.B) {
	a := MustStartLabs(b, testenv.Backend{Name: "embedded", DataDir: b.TempDir()}, nil, limiter.Lab)
	ctx := context.Background()
	teacher := MustAdmin(b, a, "bench-teacher@example.org")
	cookie := teacher.cookie("workbook_session")
	resp := teacher.post("/classes", url.Values{"name": {"Bench"}})
	id := strings.TrimPrefix(resp.Header.Get("Location"), "/classes/")
	cid, _ := strconv.ParseInt(id, 10, 64)
	for _, a2 := range []store.Assignment{{ClassID: cid, Kind: store.AssignExercise, Ref: limiterExercise}, {ClassID: cid, Kind: store.AssignQuiz, Ref: "cap"}} {
		if err := a.store.AddAssignment(ctx, &a2); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 100 {
		u, err := a.store.CreateUser(ctx, fmt.Sprintf("l%03d@example.org", i), "x", store.RoleLearner)
		if err != nil {
			b.Fatal(err)
		}
		if err := a.store.JoinClass(ctx, cid, u.ID, time.Now()); err != nil {
			b.Fatal(err)
		}
		for j := range 3 {
			score := (i*7 + j*13) % 101
			sub := store.Submission{ID: store.NewSubmissionID(), UserID: u.ID, Lab: "limiter", Exercise: limiterExercise, Design: "{}",
				Status: store.StatusGraded, Score: &score, MaxScore: 100, CreatedAt: time.Now()}
			if err := a.store.CreateSubmission(ctx, &sub, func(context.Context, *sql.Tx) (int64, error) { return 0, nil }); err != nil {
				b.Fatal(err)
			}
		}
		if err := a.store.AddQuizAttempt(ctx, &store.QuizAttempt{UserID: u.ID, LessonSlug: "cap", Score: i % 10, MaxScore: 10, Answers: "{}", CreatedAt: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
	run := func(name, path string) {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				r := httptest.NewRequest(http.MethodGet, path, nil)
				r.AddCookie(cookie)
				w := httptest.NewRecorder()
				a.app.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d", path, w.Code)
				}
			}
		})
	}
	run("lesson-signed-in", "/lessons/cap")
	run("gradebook-100", "/classes/"+id)
	run("gradebook-csv-100", "/classes/"+id+"/gradebook.csv")
	// 300 finished submissions wait for the instructor's look: the page
	// lists the newest 50 and counts them all (as the nav badge does on
	// every page).
	run("notices-300-waiting", "/notices")
}
