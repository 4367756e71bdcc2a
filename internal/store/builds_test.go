package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
)

func buildSubmission(u store.User, at time.Time) store.Submission {
	return store.Submission{ID: store.NewSubmissionID(), UserID: u.ID, Lab: "limiter", Exercise: "limiter-build",
		Design: `{"language":"go"}`, Status: store.StatusQueued, MaxScore: 100, CreatedAt: at}
}

// A build submission commits with its archive and job, or nothing does;
// the archive comes back byte for byte, and without its bytes for pages.
func TestBuildSubmissionsKeepTheirArchive(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			st := MustOpen(t, b)
			u := mustUser(t, st, "builder@example.org")
			data := append([]byte("PK\x03\x04"), bytes.Repeat([]byte{0, 0xff, 'x'}, 100000)...)
			arc := store.SubmissionArchive{Language: "go", Format: "zip", Size: int64(len(data)), SHA256: "ab12", Data: data}
			now := time.Now()

			failed := buildSubmission(u, now)
			err := st.CreateBuildSubmission(ctx, &failed, arc, func(context.Context, *sql.Tx) (int64, error) { return 0, errors.New("queue down") })
			if err == nil {
				t.Fatal("a failed enqueue committed")
			}
			if _, err := st.ArchiveInfo(ctx, failed.ID); !apperr.Is(err, apperr.NotFound) {
				t.Fatalf("the archive of a submission that failed to enqueue: %v", err)
			}

			sub := buildSubmission(u, now)
			if err := st.CreateBuildSubmission(ctx, &sub, arc, func(context.Context, *sql.Tx) (int64, error) { return 7, nil }); err != nil {
				t.Fatal(err)
			}
			got, err := st.ArchiveOf(ctx, sub.ID)
			if err != nil || !bytes.Equal(got.Data, data) || got.Language != "go" || got.Format != "zip" || got.Size != int64(len(data)) || got.SHA256 != "ab12" {
				t.Fatalf("archive back: %d bytes, %+v, %v", len(got.Data), got.Language, err)
			}
			info, err := st.ArchiveInfo(ctx, sub.ID)
			if err != nil || info.Data != nil || info.Size != int64(len(data)) || info.SubmissionID != sub.ID {
				t.Fatalf("archive info: %d bytes of data, %+v, %v", len(info.Data), info.Size, err)
			}
			if _, err := st.ArchiveInfo(ctx, mustSubmit(t, st, u, "limiter-api-quota", 1).ID); !apperr.Is(err, apperr.NotFound) {
				t.Fatalf("a design submission's archive: %v", err)
			}
			n, err := st.BuildSubmissionsSince(ctx, u.ID, now.Add(-time.Hour))
			if err != nil || n != 1 {
				t.Fatalf("build submissions in the last hour: %d, %v", n, err)
			}
			if n, _ := st.BuildSubmissionsSince(ctx, u.ID, now.Add(time.Hour)); n != 0 {
				t.Fatalf("build submissions after now: %d", n)
			}
		})
	}
}

// A run's output is kept as valid text, capped with its last lines, one
// row per submission: saving a later run drops the earlier one's.
func TestRunLogs(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			st := MustOpen(t, b)
			u := mustUser(t, st, "logs@example.org")
			sub := buildSubmission(u, time.Now())
			if err := st.CreateBuildSubmission(ctx, &sub, store.SubmissionArchive{Language: "python", Format: "tar.gz", Data: []byte{1}},
				func(context.Context, *sql.Tx) (int64, error) { return 1, nil }); err != nil {
				t.Fatal(err)
			}
			build, reps, err := st.RunLogs(ctx, sub.ID, 1)
			if err != nil || build != "" || reps == nil || len(reps) != 0 {
				t.Fatalf("before any save: %q %v %v", build, reps, err)
			}
			flood := strings.Repeat("line of output\n", 20000) + "the last line\n"
			if err := st.SaveRunLogs(ctx, sub.ID, 1, "step 1\x00\xff\xfe\n", map[string]string{"replica-1": flood, "replica-2": "ok\n"}, time.Now()); err != nil {
				t.Fatal(err)
			}
			build, reps, err = st.RunLogs(ctx, sub.ID, 1)
			if err != nil {
				t.Fatal(err)
			}
			if build != "step 1\uFFFD\n" {
				t.Errorf("build log %q: want NUL dropped and bad bytes replaced", build)
			}
			r1 := reps["replica-1"]
			if len(r1) > store.MaxLogBytes || !strings.HasPrefix(r1, "[earlier output cut]\nline of output\n") || !strings.HasSuffix(r1, "the last line\n") || reps["replica-2"] != "ok\n" {
				t.Errorf("replica logs: %d bytes, starts %q, replica-2 %q", len(r1), r1[:min(40, len(r1))], reps["replica-2"])
			}
			// Saved again (a later save in the run), then a second run.
			if err := st.SaveRunLogs(ctx, sub.ID, 1, "again", nil, time.Now()); err != nil {
				t.Fatal(err)
			}
			if build, reps, _ := st.RunLogs(ctx, sub.ID, 1); build != "again" || len(reps) != 0 {
				t.Fatalf("saved again: %q %v", build, reps)
			}
			if err := st.SaveRunLogs(ctx, sub.ID, 2, "run 2", map[string]string{"replica-1": "x"}, time.Now()); err != nil {
				t.Fatal(err)
			}
			if build, _, _ := st.RunLogs(ctx, sub.ID, 1); build != "" {
				t.Fatalf("run 1's logs outlived run 2's: %q", build)
			}
			if build, reps, _ := st.RunLogs(ctx, sub.ID, 2); build != "run 2" || reps["replica-1"] != "x" {
				t.Fatalf("run 2: %q %v", build, reps)
			}
		})
	}
}

func TestLogTextKeepsTheEnd(t *testing.T) {
	long := strings.Repeat("é", 1000) + "\nend"
	got := store.LogText(long, 100)
	if len(got) > 100 || !strings.HasSuffix(got, "\nend") || !strings.HasPrefix(got, "[earlier output cut]\n") {
		t.Fatalf("%q", got)
	}
	if !strings.Contains(got, "é") || strings.ContainsRune(got, '\uFFFD') {
		t.Fatalf("cut inside a character: %q", got)
	}
}
