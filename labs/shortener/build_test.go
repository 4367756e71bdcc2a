package shortener

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// The exercise is a build exercise with its contract, 2 replicas on
// PostgreSQL and Redis, 100 points, and kits in both languages pinned to
// the module versions the Go image carries.
func TestBuildExerciseContract(t *testing.T) {
	ex := buildExercise()
	if ex.Kind() != labs.KindBuild || ex.Build.Replicas != 2 || !ex.Build.Redis || !ex.Build.Postgres || ex.Build.Downstream || !ex.NeedsDB {
		t.Fatalf("exercise %s: kind %s, build %+v", ex.ID, ex.Kind(), ex.Build)
	}
	if ex.MaxScore() != 100 {
		t.Errorf("max score %d, want 100", ex.MaxScore())
	}
	if !slices.ContainsFunc(labs.ExercisesOf(Lab), func(e labs.Exercise) bool { return e.ID == ex.ID }) {
		t.Errorf("the lab does not list %s", ex.ID)
	}
	contract := strings.Join(ex.Build.Contract, "\n")
	for _, want := range []string{"0.0.0.0:$PORT", "`PORT`", "`REPLICA_ID`", "`DATABASE_URL`", "`REDIS_URL`", "redis://[:password@]host:port/db",
		"GET /healthz", "20 s", "POST /shorten", "GET /r/{code}", "302", "404", "410", "400", "POST /batch", "256 MiB", "1 CPU", "128 processes", "/tmp"} {
		if !strings.Contains(contract, want) {
			t.Errorf("the contract does not say %q", want)
		}
	}
	for _, name := range []string{"go/go.mod", "go/go.sum", "go/main.go", "go/store.go", "python/app.py"} {
		if _, err := fs.Stat(ex.Build.Starters, name); err != nil {
			t.Errorf("starter kit: %v", err)
		}
	}
	for _, mod := range []string{"kits/go/go.mod.kit", "testdata/build/go/go.mod"} {
		b, err := os.ReadFile(filepath.FromSlash(mod))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"github.com/redis/go-redis/v9 v9.7.3\n", "github.com/jackc/pgx/v5 v5.7.2\n", "\ngo 1.24\n"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s does not pin %q", mod, strings.TrimSpace(want))
			}
		}
	}
}

// The build exercise's own checks on a service the grader can restart but
// whose Redis it cannot stop: the restart check passes, and the Redis
// check is skipped with a sentence, counting neither way.
func TestBuildChecksWithoutFaults(t *testing.T) {
	ex := buildExercise()
	var checks []labs.Check
	for _, c := range ex.Checks {
		if c.Name == checkNameRedisDown || c.Name == checkNameReplicaRestart {
			checks = append(checks, c)
		}
	}
	ex.Checks = checks
	b := testenv.Backends(t)[0]
	l := &labtest.ServiceLauncher{Lab: Lab, Env: labtest.Env(t, b, "svc"), Design: mustDesign(t, nil), Restart: true}
	rs, err := labs.RunOn(context.Background(), Lab, ex, nil, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		t.Logf("%s: passed %v, skipped %v: %s", r.Name, r.Passed, r.Skipped, r.Message)
		switch r.Name {
		case checkNameRedisDown:
			if !r.Skipped || r.MaxPoints != 0 || !strings.Contains(r.Message, "cannot have its Redis stopped") {
				t.Errorf("without faults: %+v", r)
			}
		case checkNameReplicaRestart:
			if !r.Passed || r.Points != 15 || !strings.Contains(r.Message, "every replica of the service was killed") {
				t.Errorf("restart: %+v", r)
			}
		}
	}
}
