package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
)

const buildSubmitPath = "/api/labs/limiter/submissions"

// Build submissions through the API: a service's archive is taken (202),
// its result names the archive and carries the run's logs, and only its
// owner reaches it; every refusal names its field and stores nothing.
func TestBuildSubmissionAPI(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStartLabs(t, be, nil, buildLabs...)
			anon := newBrowser(t, a)
			wantStatus(t, anon.upload(buildSubmitPath, map[string]string{"exercise": testBuildExercise}, zipOf(t, "app.py", pyService), true),
				http.StatusUnauthorized)

			b := MustRegister(t, a, "builder@example.com")
			checkRefusedBuilds(t, a, b)

			data := zipOf(t, "svc/app.py", pyService, "svc/requirements.txt", "redis\n")
			resp := b.upload(buildSubmitPath, map[string]string{"exercise": testBuildExercise, "notes": "  per-key Lua  "}, data, true)
			wantStatus(t, resp, http.StatusAccepted)
			m := decodeJSON(t, resp)
			id, _ := m["id"].(string)
			if id == "" || m["exercise"] != testBuildExercise || resp.Header.Get("Location") != "/api/submissions/"+id {
				t.Fatalf("202 body %v", m)
			}
			res := getJSON(t, b, "/api/submissions/"+id)
			sum := sha256.Sum256(data)
			arc, _ := res["archive"].(map[string]any)
			if res["kind"] != "build" || res["status"] != "queued" || res["notes"] != "per-key Lua" || arc["language"] != "python" ||
				arc["format"] != "zip" || arc["size"] != float64(len(data)) || arc["sha256"] != hex.EncodeToString(sum[:]) {
				t.Fatalf("result of a build submission: %v", res)
			}
			if d, _ := res["design"].(map[string]any); d["language"] != "python" {
				t.Errorf("design column: %v", res["design"])
			}
			if logs, ok := res["logs"].(map[string]any); !ok || len(logs) != 0 || res["build_log"] != "" {
				t.Errorf("before a run: build_log %v, logs %v", res["build_log"], res["logs"])
			}
			checkOwnArchive(t, a, b, id, data)
			checkRunLogsShown(t, a, b, id)
		})
	}
}

// getJSON reads an API answer that must be 200.
func getJSON(t *testing.T, b *browser, path string) map[string]any {
	t.Helper()
	resp := b.api("GET", path, "")
	wantStatus(t, resp, http.StatusOK)
	return decodeJSON(t, resp)
}

// checkRefusedBuilds: each bad upload is refused naming its field (an
// oversized body with a 413), and not one submission or archive is kept.
func checkRefusedBuilds(t *testing.T, a *testApp, b *browser) {
	t.Helper()
	py := zipOf(t, "app.py", pyService)
	over := append(zipOf(t, "app.py", pyService), bytes.Repeat([]byte{0}, 10<<20)...)
	bad := []struct {
		name    string
		fields  map[string]string
		archive []byte
		status  int
		field   string
		says    string
	}{
		{"no archive", map[string]string{"exercise": testBuildExercise}, nil, 422, "archive", "Choose the .zip"},
		{"empty file", map[string]string{"exercise": testBuildExercise}, []byte{}, 422, "archive", "Choose the .zip"},
		{"not an archive", map[string]string{"exercise": testBuildExercise}, []byte("print('hi')"), 422, "archive", "neither a .zip nor a .tar.gz"},
		{"climbs out", map[string]string{"exercise": testBuildExercise}, zipOf(t, "app.py", pyService, "../../etc/cron.d/x", "boom"), 422, "archive", "climbs out"},
		{"link", map[string]string{"exercise": testBuildExercise}, tarGzWithLink(t), 422, "archive", "link"},
		{"nothing to run", map[string]string{"exercise": testBuildExercise}, zipOf(t, "README.md", "hi"), 422, "archive", "nothing to run"},
		{"language disagrees", map[string]string{"exercise": testBuildExercise, "language": "go"}, py, 422, "language", "You chose Go"},
		{"unknown language", map[string]string{"exercise": testBuildExercise, "language": "cobol"}, py, 422, "language", "Choose Go, Python"},
		{"notes too long", map[string]string{"exercise": testBuildExercise, "notes": strings.Repeat("n", 4001)}, py, 422, "notes", "At most 4000"},
		{"unknown exercise", map[string]string{"exercise": "nope"}, py, 422, "exercise", "No exercise"},
		{"design exercise", map[string]string{"exercise": limiterExercise}, py, 422, "exercise", "design exercise"},
		{"archive over 10 MB", map[string]string{"exercise": testBuildExercise}, over[:10<<20+100], 422, "archive", "larger than 10 MB"},
		{"body over 11 MB", map[string]string{"exercise": testBuildExercise}, append(over, make([]byte, 1<<20)...), 413, "archive", "larger than 10 MB"},
	}
	for _, c := range bad {
		resp := b.upload(buildSubmitPath, c.fields, c.archive, true)
		wantStatus(t, resp, c.status)
		wantFieldSays(t, c.name, decodeJSON(t, resp), c.field, c.says)
	}
	// A body of undeclared length over the limit, and a JSON body for a
	// build exercise.
	body, ct := multipartBody(t, map[string]string{"exercise": testBuildExercise}, append(over, make([]byte, 1<<20)...))
	req, _ := http.NewRequest(http.MethodPost, b.base+buildSubmitPath, io.MultiReader(body)) // no length: sent chunked
	req.Header.Set("Content-Type", ct)
	resp := b.do(req)
	wantStatus(t, resp, http.StatusRequestEntityTooLarge)
	wantFieldSays(t, "chunked body over 11 MB", decodeJSON(t, resp), "archive", "larger than 10 MB")
	resp = b.api("POST", buildSubmitPath, `{"exercise": "`+testBuildExercise+`", "design": {}}`)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantFieldSays(t, "JSON for a build exercise", decodeJSON(t, resp), "archive", "build exercise")
	wantNothingStored(t, a, "builder@example.com")
}

func wantFieldSays(t *testing.T, name string, m map[string]any, field, says string) {
	t.Helper()
	e, _ := m["error"].(map[string]any)
	fields, _ := e["fields"].(map[string]any)
	msg, _ := fields[field].(string)
	if !strings.Contains(msg, says) {
		t.Errorf("%s: fields %v, want %q saying %q", name, fields, field, says)
	}
}

// wantNothingStored: the account has no submission, so no archive either.
func wantNothingStored(t *testing.T, a *testApp, email string) {
	t.Helper()
	ctx := context.Background()
	u, err := a.store.UserByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	subs, err := a.store.Submissions(ctx, u.ID, "")
	if err != nil || len(subs) != 0 {
		t.Fatalf("refused uploads stored %d submissions (%v)", len(subs), err)
	}
	if n, err := a.store.BuildSubmissionsSince(ctx, u.ID, time.Time{}); err != nil || n != 0 {
		t.Fatalf("refused uploads stored %d archives (%v)", n, err)
	}
}

// checkOwnArchive: the owner downloads the archive byte for byte; another
// learner gets the one 404 for it and for the submission.
func checkOwnArchive(t *testing.T, a *testApp, b *browser, id string, data []byte) {
	t.Helper()
	resp := b.get("/submissions/" + id + "/archive")
	wantStatus(t, resp, http.StatusOK)
	got := []byte(readBody(t, resp))
	if !bytes.Equal(got, data) || resp.Header.Get("Content-Type") != "application/zip" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename=limiter-intake-build-submission-1.zip` {
		t.Fatalf("download: %d bytes, %q, %q", len(got), resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
	}
	resp = b.api("GET", "/api/submissions/"+id+"/archive", "")
	wantStatus(t, resp, http.StatusOK)
	if got := readBody(t, resp); got != string(data) {
		t.Fatalf("download through the API: %d bytes", len(got))
	}
	other := MustRegister(t, a, "other@example.com")
	wantStatus(t, other.api("GET", "/api/submissions/"+id+"/archive", ""), http.StatusNotFound)
	wantStatus(t, other.get("/submissions/"+id+"/archive"), http.StatusNotFound)
	wantStatus(t, other.api("GET", "/api/submissions/"+id, ""), http.StatusNotFound)
	wantStatus(t, other.get("/submissions/"+id), http.StatusNotFound)
}

// checkRunLogsShown: once a run recorded its output, the API carries it
// and the page shows each log, newest line first.
func checkRunLogsShown(t *testing.T, a *testApp, b *browser, id string) {
	t.Helper()
	ctx := context.Background()
	sub, ok, err := a.store.StartRun(ctx, id, "test-worker", time.Now(), time.Minute)
	if err != nil || !ok {
		t.Fatalf("start run: %v %v", ok, err)
	}
	err = a.store.SaveRunLogs(ctx, id, sub.Run, "Step 1/4 : FROM python\nSuccessfully built\n",
		map[string]string{"replica-1": "listening on 8080\nGET /healthz 200\n", "replica-2": "listening on 8080\n"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res := getJSON(t, b, "/api/submissions/"+id)
	logs, _ := res["logs"].(map[string]any)
	if res["build_log"] != "Step 1/4 : FROM python\nSuccessfully built\n" || logs["replica-1"] != "listening on 8080\nGET /healthz 200\n" || len(logs) != 2 {
		t.Fatalf("logs in the API: %v %v", res["build_log"], logs)
	}
	d := doc(t, b.get("/submissions/"+id))
	lines := d.Find(`[data-testid="log-replica-1"] .log-lines li`)
	if lines.Length() != 2 || strings.TrimSpace(lines.First().Text()) != "GET /healthz 200" {
		t.Fatalf("replica 1's log on the page: %d lines, first %q", lines.Length(), lines.First().Text())
	}
	if got := d.Find(`[data-testid="log-build"] summary`).Text(); !strings.Contains(got, "Image build") || !strings.Contains(got, "2 lines") {
		t.Errorf("build log summary %q", got)
	}
	if href, _ := d.Find(`[data-testid="archive-download"]`).Attr("href"); href != "/submissions/"+id+"/archive" {
		t.Errorf("download link %q", href)
	}
	if got := testid(d, "archive-language"); got != "Python" {
		t.Errorf("built as %q", got)
	}
}

// A learner's build submissions are bounded: three waiting at once, and
// a day's worth of archives.
func TestBuildSubmissionLimits(t *testing.T) {
	be := testenv.Backend{Name: "embedded", DataDir: t.TempDir()}
	a := MustStartLabs(t, be, nil, buildLabs...)
	b := MustRegister(t, a, "busy@example.com")
	py := zipOf(t, "app.py", pyService)
	for range 3 {
		wantStatus(t, b.upload(buildSubmitPath, map[string]string{"exercise": testBuildExercise}, py, true), http.StatusAccepted)
	}
	resp := b.upload(buildSubmitPath, map[string]string{"exercise": testBuildExercise}, py, true)
	wantStatus(t, resp, http.StatusTooManyRequests)
	ctx := context.Background()
	u, _ := a.store.UserByEmail(ctx, "busy@example.com")
	subs, _ := a.store.Submissions(ctx, u.ID, "")
	for _, s := range subs {
		if _, ok, err := a.store.StartRun(ctx, s.ID, "w", time.Now(), time.Minute); err != nil || !ok {
			t.Fatal(err)
		}
		if _, err := a.store.FinishRun(ctx, s.ID, 1, store.Outcome{Status: store.StatusGraded, MaxScore: 10, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 3; i < 30; i++ {
		sub := store.Submission{ID: store.NewSubmissionID(), UserID: u.ID, Lab: "limiter", Exercise: testBuildExercise, Design: `{"language":"python"}`,
			Status: store.StatusGraded, MaxScore: 10, CreatedAt: time.Now()}
		if err := a.store.CreateBuildSubmission(ctx, &sub, store.SubmissionArchive{Language: "python", Format: "zip", Data: py}, noJob); err != nil {
			t.Fatal(err)
		}
	}
	resp = b.upload(buildSubmitPath, map[string]string{"exercise": testBuildExercise}, py, true)
	wantStatus(t, resp, http.StatusTooManyRequests)
	if m := decodeJSON(t, resp); !strings.Contains(m["error"].(map[string]any)["message"].(string), "30 build submissions in the last 24 hours") {
		t.Fatalf("daily bound: %v", m)
	}
}
