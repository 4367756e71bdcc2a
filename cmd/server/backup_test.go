package main

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/sqlopen"
)

// liveServer runs the server on the SQLite database in dir until the test
// ends or stop is called; stop returns its exit code.
func liveServer(t *testing.T, dir string) (base string, env config.Getenv, logs *syncBuffer, stop func() int) {
	t.Helper()
	addr := freeAddr(t)
	env = config.MapEnv(map[string]string{"WORKBOOK_ADDR": addr, "WORKBOOK_DATA_DIR": dir})
	ctx, cancel := context.WithCancel(context.Background())
	logs = &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, nil, env, logs, logs) }()
	var once sync.Once
	code := 0
	stop = func() int {
		once.Do(func() { cancel(); code = <-done })
		return code
	}
	t.Cleanup(func() { stop() })
	base = "http://" + addr
	waitReady(t, base, logs)
	return base, env, logs, stop
}

// command runs one server command and returns its exit code and output.
func command(env config.Getenv, args ...string) (int, string) {
	var out bytes.Buffer
	code := run(context.Background(), args, env, &out, &out)
	return code, out.String()
}

// quizAttempt records one attempt of the CAP quiz; it reports whether the
// server acknowledged it.
func quizAttempt(c *http.Client, base string) bool {
	form := url.Values{"q.min-read-quorum": {"4"}}
	req, _ := http.NewRequest(http.MethodPost, base+"/lessons/cap/quiz", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func countRows(t *testing.T, dbPath, table string) int64 {
	t.Helper()
	db, _, err := sqlopen.Open(context.Background(), sqlopen.Options{SQLitePath: dbPath})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A backup taken while learners write holds every write acknowledged
// before it began; it restores into a new data directory where the
// server starts and the learner signs in; a restore refuses while a
// server uses the database, and refuses what is not a workbook database,
// changing nothing either time.
func TestBackupOfALiveServerRestores(t *testing.T) {
	dir := t.TempDir()
	base, env, logs, stop := liveServer(t, dir)
	c := signedIn(t, base)
	file := filepath.Join(t.TempDir(), "workbook-backup.db")
	before, after := backupWhileWriting(t, c, base, env, file)

	if code, out := command(env, "restore", file); code != exitFail || !strings.Contains(out, "stop it first") || !strings.Contains(out, "nothing was changed") {
		t.Errorf("restore while serving: exit %d: %s", code, out)
	}
	if code, out := command(env, "backup", file); code != exitConfig || !strings.Contains(out, "already exists") {
		t.Errorf("backup over an existing file: exit %d: %s", code, out)
	}
	if code := stop(); code != exitOK {
		t.Fatalf("server exit %d; logs:\n%s", code, logs.String())
	}
	got := countRows(t, file, "quiz_attempts")
	if got < before || got > after {
		t.Errorf("the backup holds %d quiz attempts; %d were acknowledged before it began and %d by its end", got, before, after)
	}
	dir2 := restoreIntoNewDir(t, file, got)
	restoreOverADatabase(t, env, dir, file)

	// What is not a workbook database changes nothing.
	junk := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(junk, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	env2 := config.MapEnv(map[string]string{"WORKBOOK_DATA_DIR": dir2})
	if code, out := command(env2, "restore", junk); code != exitFail || !strings.Contains(out, "nothing was changed") {
		t.Errorf("restore of a text file: exit %d: %s", code, out)
	}
	if n := countRows(t, filepath.Join(dir2, "workbook.db"), "quiz_attempts"); n != got {
		t.Errorf("a refused restore changed the database: %d attempts, want %d", n, got)
	}
}

// backupWhileWriting records quiz attempts as fast as the server takes
// them and backs up to file meanwhile; it returns how many attempts were
// acknowledged before the backup began and by its end.
func backupWhileWriting(t *testing.T, c *http.Client, base string, env config.Getenv, file string) (before, after int64) {
	t.Helper()
	var acked atomic.Int64
	quit := make(chan struct{})
	writer := make(chan struct{})
	go func() {
		defer close(writer)
		for {
			select {
			case <-quit:
				return
			default:
			}
			if quizAttempt(c, base) {
				acked.Add(1)
			}
		}
	}()
	defer func() { close(quit); <-writer }()
	for acked.Load() < 30 {
		time.Sleep(10 * time.Millisecond)
	}
	before = acked.Load()
	code, out := command(env, "backup", file)
	after = acked.Load()
	for acked.Load() < after+10 { // writes go on after it
		time.Sleep(10 * time.Millisecond)
	}
	if code != exitOK || !strings.Contains(out, "Backed up") {
		t.Fatalf("backup: exit %d: %s", code, out)
	}
	t.Logf("%s (%d attempts acknowledged before it began, %d by its end)", strings.TrimSpace(out), before, after)
	return before, after
}

// restoreIntoNewDir restores file into a new data directory, where a
// server starts and the learner signs in; it returns the directory.
func restoreIntoNewDir(t *testing.T, file string, attempts int64) string {
	t.Helper()
	dir := t.TempDir()
	env := config.MapEnv(map[string]string{"WORKBOOK_DATA_DIR": dir})
	if code, out := command(env, "restore", file); code != exitOK || !strings.Contains(out, "Restored") {
		t.Fatalf("restore: exit %d: %s", code, out)
	}
	if n := countRows(t, filepath.Join(dir, "workbook.db"), "quiz_attempts"); n != attempts {
		t.Errorf("restored %d quiz attempts, the backup holds %d", n, attempts)
	}
	base, _, _, stop := liveServer(t, dir)
	if resp := postForm(t, base, "/login", url.Values{"email": {"streams@example.com"}, "password": {"correct horse battery staple"}}); resp != http.StatusSeeOther {
		t.Errorf("signing in on the restored server: %d", resp)
	}
	stop()
	return dir
}

// restoreOverADatabase restores file over the database in dir: the one
// it replaces is kept whole.
func restoreOverADatabase(t *testing.T, env config.Getenv, dir, file string) {
	t.Helper()
	all := countRows(t, filepath.Join(dir, "workbook.db"), "quiz_attempts")
	if code, out := command(env, "restore", file); code != exitOK || !strings.Contains(out, "kept as") {
		t.Fatalf("restore over a database: exit %d: %s", code, out)
	}
	kept, _ := filepath.Glob(filepath.Join(dir, "workbook.db.before-restore-*"))
	if len(kept) == 0 || countRows(t, kept[0], "quiz_attempts") != all {
		t.Errorf("the replaced database was not kept whole: %v", kept)
	}
}

// On PostgreSQL both commands say how to use pg_dump and pg_restore.
func TestBackupOnPostgresExplainsPgDump(t *testing.T) {
	env := config.MapEnv(map[string]string{"DATABASE_URL": "postgres://workbook:secret@db.invalid:5432/workbook"})
	for _, cmd := range []string{"backup", "restore"} {
		if code, out := command(env, cmd, "workbook.dump"); code != exitConfig || !strings.Contains(out, "pg_dump --format=custom") {
			t.Errorf("%s on PostgreSQL: exit %d: %s", cmd, code, out)
		}
	}
	if code, out := command(config.MapEnv(nil), "backup"); code != exitConfig || !strings.Contains(out, "usage: server backup FILE") {
		t.Errorf("backup without a file: exit %d: %s", code, out)
	}
}

func postForm(t *testing.T, base, path string, form url.Values) int {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// BenchmarkBackup backs up a database of 10,000 graded submissions (eight
// checks each, with their sentences and a chart) by VACUUM INTO, against
// a plain copy of the same file's bytes in the same run (the floor any
// backup pays); the backup's size is reported as MB.
//
//	go test ./cmd/server -run '^$' -bench Backup -benchtime 3x
func BenchmarkBackup(b *testing.B) {
	dir := b.TempDir()
	env := config.MapEnv(map[string]string{"WORKBOOK_DATA_DIR": dir})
	if code, out := command(env, "migrate"); code != exitOK {
		b.Fatalf("migrate: %s", out)
	}
	db, _, err := sqlopen.Open(context.Background(), sqlopen.Options{SQLitePath: filepath.Join(dir, "workbook.db")})
	if err != nil {
		b.Fatal(err)
	}
	fill := func(q string, args ...any) {
		if _, err := db.Exec(q, args...); err != nil {
			b.Fatal(err)
		}
	}
	fill(`INSERT INTO users (email, password_hash, role, created_at, updated_at) VALUES ('bench@example.org', 'x', 'learner', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`)
	tx, _ := db.Begin()
	msg := strings.Repeat("A fresh client sent 40 requests one after another: 20 admitted, 20 refused with 429. ", 3)
	chart := `{"title":"Requests admitted so far","series":[` + strings.Repeat(`[0,1,2,3,4,5,6,7,8,9],`, 20) + `[0]]}`
	for i := range 10000 {
		id := "bench-" + strings.Repeat("0", 6-len(strconv.Itoa(i))) + strconv.Itoa(i)
		if _, err := tx.Exec(`INSERT INTO submissions (id, user_id, lab, exercise, number, design, status, score, max_score, created_at)
			VALUES (?, 1, 'limiter', 'limiter-api-quota', ?, '{"algorithm":"sliding_log","limit":20,"window_ms":2000}', 'graded', 85, 100, CURRENT_TIMESTAMP)`, id, i+1); err != nil {
			b.Fatal(err)
		}
		for seq := range 8 {
			if _, err := tx.Exec(`INSERT INTO submission_checks (submission_id, run, seq, name, requirement, passed, points, max_points, message, duration_ms, chart)
				VALUES (?, 1, ?, 'limit honoured', 'must', TRUE, 10, 10, ?, 2566, ?)`, id, seq, msg, chart); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	db.Close()
	src := filepath.Join(dir, "workbook.db")
	out := b.TempDir()
	var size int64
	b.Run("copy-bytes", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if err := copyFile(src, filepath.Join(out, "copy-"+strconv.Itoa(i))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("backup", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			file := filepath.Join(out, "backup-"+strconv.Itoa(i)+".db")
			if code, msg := command(env, "backup", file); code != exitOK {
				b.Fatal(msg)
			}
			if st, err := os.Stat(file); err == nil {
				size = st.Size()
			}
		}
		b.ReportMetric(float64(size)/(1<<20), "MB")
	})
}
