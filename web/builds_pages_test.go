package web

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/archive"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/all"
)

// GET /api/exercises lists every exercise with its kind; a build exercise
// adds its languages and is off the ladder (step 0). ?lab= narrows to one
// lab; an unknown one is a 404 naming lab.
func TestExercisesAPI(t *testing.T) {
	a := MustStartLabs(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil, buildLabs...)
	b := newBrowser(t, a) // no account needed: the catalogue is public
	m := getJSON(t, b, "/api/exercises")
	exs, _ := m["exercises"].([]any)
	byID := map[string]map[string]any{}
	for _, e := range exs {
		e := e.(map[string]any)
		byID[e["id"].(string)] = e
	}
	design, build := byID[limiterExercise], byID[testBuildExercise]
	if design == nil || build == nil {
		t.Fatalf("exercises %v", m)
	}
	if design["kind"] != "design" || design["languages"] != nil || design["step"] != 1.0 || design["max_score"] != 100.0 {
		t.Errorf("design exercise: %v", design)
	}
	langs, _ := build["languages"].([]any)
	checks, _ := build["checks"].([]any)
	if build["kind"] != "build" || build["step"] != 0.0 || len(langs) != 2 || langs[0] != "go" || langs[1] != "python" || build["lab"] != "limiter" ||
		len(checks) != 1 || checks[0].(map[string]any)["points"] != 10.0 || build["starter"] != "/api/exercises/"+testBuildExercise+"/starter" {
		t.Errorf("build exercise: %v", build)
	}
	if n := len(getJSON(t, b, "/api/exercises?lab=limiter")["exercises"].([]any)); n != len(exs) {
		t.Errorf("?lab=limiter: %d exercises of %d", n, len(exs))
	}
	resp := b.api("GET", "/api/exercises?lab=nolab", "")
	wantStatus(t, resp, http.StatusNotFound)
	wantFieldSays(t, "unknown lab", decodeJSON(t, resp), "lab", "No graded lab")
}

// The catalogue of the real labs is ordered by lab (as pages show them)
// and step, each lab's ladder starting at 1 with no gap and its build
// exercise after it; every entry has the contract's fields.
func TestExercisesAPIListsLadders(t *testing.T) {
	reg := all.Registry()
	a := MustStartLabs(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil, reg.Labs()...)
	b := newBrowser(t, a)
	exs := getJSON(t, b, "/api/exercises")["exercises"].([]any)
	labOrder := map[string]int{}
	for i, id := range reg.IDs() {
		labOrder[id] = i
	}
	lastLab, lastStep, inBuilds := -1, 0, false
	perLab := map[string]int{}
	for _, e := range exs {
		e := e.(map[string]any)
		lab, step, kind := e["lab"].(string), int(e["step"].(float64)), e["kind"].(string)
		if e["id"] == "" || e["title"] == "" || e["max_score"].(float64) <= 0 || len(e["checks"].([]any)) == 0 {
			t.Errorf("incomplete entry %v", e)
		}
		if labOrder[lab] != lastLab {
			if labOrder[lab] < lastLab {
				t.Errorf("lab %s listed after a later lab", lab)
			}
			lastLab, lastStep, inBuilds = labOrder[lab], 0, false
		}
		perLab[lab]++
		switch {
		case kind == "build":
			inBuilds = true
			if step != 0 {
				t.Errorf("%s: build exercise on step %d", e["id"], step)
			}
		case inBuilds || step != lastStep+1:
			t.Errorf("%s: step %d after step %d (after a build exercise: %v)", e["id"], step, lastStep, inBuilds)
		default:
			lastStep = step
		}
	}
	for lab, n := range perLab {
		got := getJSON(t, b, "/api/exercises?lab="+lab)["exercises"].([]any)
		if len(got) != n || got[0].(map[string]any)["step"] != 1.0 {
			t.Errorf("?lab=%s: %d exercises, want %d starting at step 1", lab, len(got), n)
		}
	}
}

// A starter kit is a zip of the kit in a folder of its own, with a README
// of the contract, that the workbook's own intake takes as that language.
func TestStarterKits(t *testing.T) {
	a := MustStartLabs(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil, buildLabs...)
	b := newBrowser(t, a)
	for lang, want := range map[string][]string{"go": {"go.mod", "main.go", "README.md"}, "python": {"app.py", "store.py", "README.md"}} {
		resp := b.get("/api/exercises/" + testBuildExercise + "/starter?lang=" + lang)
		wantStatus(t, resp, http.StatusOK)
		if ct := resp.Header.Get("Content-Type"); ct != "application/zip" {
			t.Fatalf("%s kit: Content-Type %q", lang, ct)
		}
		data := []byte(readBody(t, resp))
		dst := filepath.Join(t.TempDir(), "kit")
		sum, err := archive.Unpack(bytes.NewReader(data), "kit.zip", dst, archive.DefaultLimits)
		if err != nil || sum.Language != lang || sum.Stripped != testBuildExercise+"-"+lang {
			t.Fatalf("%s kit through the intake: %+v, %v", lang, sum, err)
		}
		for _, f := range want {
			if _, err := os.Stat(filepath.Join(dst, f)); err != nil {
				t.Errorf("%s kit lacks %s", lang, f)
			}
		}
		readme, _ := os.ReadFile(filepath.Join(dst, "README.md"))
		for _, says := range []string{"`POST /request?key=K`", "QUOTA_LIMIT=10", "REDIS_URL", "**limit holds** (10 points)",
			"-F archive=@service.zip", "/api/labs/limiter/submissions"} {
			if !strings.Contains(string(readme), says) {
				t.Errorf("%s kit's README does not say %q:\n%s", lang, says, readme)
			}
		}
		if lang == "go" && !strings.Contains(string(readme), "Notes of the Go kit.") {
			t.Errorf("the Go kit's own README was dropped")
		}
	}
	resp := b.get("/api/exercises/" + testBuildExercise + "/starter?lang=rust")
	wantStatus(t, resp, http.StatusBadRequest)
	wantFieldSays(t, "unknown lang", decodeJSON(t, resp), "lang", "go, python")
	wantStatus(t, b.get("/api/exercises/"+testBuildExercise+"/starter"), http.StatusBadRequest)
	wantStatus(t, b.get("/api/exercises/"+limiterExercise+"/starter?lang=go"), http.StatusNotFound)
	wantStatus(t, b.get("/api/exercises/nope/starter?lang=go"), http.StatusNotFound)
}

// The build exercise's page: the contract, the kits and an upload form;
// a refused upload comes back as the form with the message beside the
// archive and the language and notes kept; an accepted one goes to its
// submission page.
func TestBuildExerciseForm(t *testing.T) {
	a := MustStartLabs(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil, buildLabs...)
	page := "/labs/limiter/exercises/" + testBuildExercise
	lab := doc(t, newBrowser(t, a).get("/labs/limiter"))
	if lab.Find(`[data-testid="exercise-`+testBuildExercise+`"] [data-testid="build-pill"]`).Length() != 1 ||
		lab.Find(`[data-testid="exercise-`+limiterExercise+`"] [data-testid="build-pill"]`).Length() != 0 {
		t.Errorf("the lab page does not tell the build exercise from the design one")
	}
	d := doc(t, newBrowser(t, a).get(page))
	if got := d.Find(`[data-testid="contract"] .prose code`).First().Text(); got != "POST /request?key=K" {
		t.Errorf("contract on the page: %q", got)
	}
	if href, _ := d.Find(`[data-testid="starter-python"]`).Attr("href"); href != "/api/exercises/"+testBuildExercise+"/starter?lang=python" {
		t.Errorf("python kit link %q", href)
	}
	if !strings.Contains(testid(d, "contract-env"), "QUOTA_WINDOW_MS") {
		t.Errorf("environment table: %q", testid(d, "contract-env"))
	}

	b := MustRegister(t, a, "former@example.com")
	d = doc(t, b.get(page))
	form := d.Find(`form[data-testid="upload-form"]`)
	if enc, _ := form.Attr("enctype"); enc != "multipart/form-data" || form.Find(`input[type="file"][name="archive"]`).Length() != 1 ||
		form.Find(`label[for="f-archive"]`).Length() != 1 || form.Find(`select[name="language"]`).Length() != 1 {
		t.Fatalf("upload form: enctype %q", enc)
	}
	notes := "Sliding window in one Lua script."
	resp := b.upload(page, map[string]string{"language": "python", "notes": notes}, zipOf(t, "../app.py", pyService), false)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	d = doc(t, resp)
	if got := testid(d, "error-archive"); !strings.Contains(got, "climbs out") {
		t.Errorf("archive error %q", got)
	}
	if got := d.Find("#f-notes").Text(); got != notes {
		t.Errorf("notes after a refusal: %q", got)
	}
	if v, _ := d.Find(`#f-language option[selected]`).Attr("value"); v != "python" {
		t.Errorf("language after a refusal: %q", v)
	}
	wantNothingStored(t, a, "former@example.com")

	resp = b.upload(page, map[string]string{"language": "go", "notes": notes}, zipOf(t, "go.mod", goMod, "main.go", goMain), false)
	wantStatus(t, resp, http.StatusSeeOther)
	loc := resp.Header.Get("Location")
	d = doc(t, b.get(loc))
	if got := testid(d, "archive-language"); got != "Go" {
		t.Errorf("submission page: built as %q", got)
	}
	if !strings.Contains(testid(d, "logs"), "Nothing yet") {
		t.Errorf("logs before a run: %q", testid(d, "logs"))
	}
	// Submitting again starts from the last language and notes.
	d = doc(t, b.get(page+"?from="+strings.TrimPrefix(loc, "/submissions/")))
	if v, _ := d.Find(`#f-language option[selected]`).Attr("value"); v != "go" || d.Find("#f-notes").Text() != notes {
		t.Errorf("revising: language %q, notes %q", v, d.Find("#f-notes").Text())
	}
}

// A class's instructor downloads a learner's archive from the review page;
// another instructor, and the learner through the class's address, get
// the one 404.
func TestInstructorDownloadsArchive(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStartLabs(t, be, nil, buildLabs...)
			teacher := MustRegister(t, a, "teacher@example.com")
			rival := MustRegister(t, a, "rival@example.com")
			MustSetRole(t, a, "teacher@example.com", store.RoleInstructor)
			MustSetRole(t, a, "rival@example.com", store.RoleInstructor)
			ada := MustRegister(t, a, "ada@example.com")
			cid := classID(t, teacher.post("/classes", url.Values{"name": {"Builders"}}))
			classID(t, rival.post("/classes", url.Values{"name": {"Rivals"}}))
			code := testid(doc(t, teacher.get("/classes/"+cid)), "join-code")
			wantStatus(t, ada.post("/join/"+code, nil), http.StatusSeeOther)
			wantStatus(t, teacher.post("/classes/"+cid+"/assignments", url.Values{"assignment": {"exercise:" + testBuildExercise}}), http.StatusSeeOther)

			data := zipOf(t, "app.py", pyService)
			resp := ada.upload(buildSubmitPath, map[string]string{"exercise": testBuildExercise}, data, true)
			wantStatus(t, resp, http.StatusAccepted)
			id := decodeJSON(t, resp)["id"].(string)
			review := "/classes/" + cid + "/submissions/" + id
			href, _ := doc(t, teacher.get(review)).Find(`[data-testid="archive-download"]`).Attr("href")
			if href != review+"/archive" {
				t.Fatalf("download link on the review page: %q", href)
			}
			resp = teacher.get(href)
			wantStatus(t, resp, http.StatusOK)
			if got := readBody(t, resp); got != string(data) || !strings.Contains(resp.Header.Get("Content-Disposition"), "limiter-intake-build-ada-1.zip") {
				t.Fatalf("instructor's download: %d bytes, %q", len(got), resp.Header.Get("Content-Disposition"))
			}
			for name, b := range map[string]*browser{"rival": rival, "learner": ada} {
				if resp := b.get(href); resp.StatusCode != http.StatusNotFound {
					t.Errorf("%s downloading through the class: %d", name, resp.StatusCode)
				}
			}
			// A design submission the class can review has no archive: the
			// same 404.
			wantStatus(t, teacher.post("/classes/"+cid+"/assignments", url.Values{"assignment": {"exercise:" + limiterExercise}}), http.StatusSeeOther)
			ctx := context.Background()
			u, _ := a.store.UserByEmail(ctx, "ada@example.com")
			wantStatus(t, teacher.get("/classes/"+cid+"/submissions/"+mustDesignSubmission(t, a, u.ID)+"/archive"), http.StatusNotFound)
		})
	}
}

// mustDesignSubmission stores a graded design submission of userID.
func mustDesignSubmission(t *testing.T, a *testApp, userID int64) string {
	t.Helper()
	score := 50
	sub := store.Submission{ID: store.NewSubmissionID(), UserID: userID, Lab: "limiter", Exercise: limiterExercise,
		Design: "{}", Status: store.StatusGraded, Score: &score, MaxScore: 100, CreatedAt: time.Now()}
	if err := a.store.CreateSubmission(context.Background(), &sub, noJob); err != nil {
		t.Fatal(err)
	}
	return sub.ID
}

// Every starter kit of the workbook's own build exercises, as served,
// passes the intake as its language: a learner who zips the kit unchanged
// can submit it.
func TestEveryStarterKitPassesTheIntake(t *testing.T) {
	a := MustStartLabs(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil, all.Registry().Labs()...)
	b := newBrowser(t, a)
	kits := 0
	for _, l := range a.app.grader.Labs() {
		for _, ex := range a.app.grader.Exercises(l.Info().ID) {
			if ex.Build == nil {
				continue
			}
			for _, lang := range labs.Languages {
				resp := b.get("/api/exercises/" + ex.ID + "/starter?lang=" + lang)
				wantStatus(t, resp, http.StatusOK)
				sum, err := archive.Unpack(strings.NewReader(readBody(t, resp)), "kit.zip", filepath.Join(t.TempDir(), "kit"), archive.DefaultLimits)
				if err != nil || sum.Language != lang {
					t.Errorf("%s's %s kit through the intake: %+v, %v", ex.ID, lang, sum, err)
				}
				kits++
			}
		}
	}
	if kits == 0 {
		t.Skip("no build exercise is registered yet")
	}
	t.Logf("%d starter kits pass the intake", kits)
}
