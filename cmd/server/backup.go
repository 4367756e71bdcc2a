package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/sqlopen"
	"github.com/sdworkbook/workbook/migrations"
)

// pgBackupHelp is what backup and restore say on PostgreSQL, whose own
// tools take a consistent snapshot of a live database and restore it.
const pgBackupHelp = `The database is PostgreSQL (DATABASE_URL): back it up with its own tool,
which reads one consistent snapshot while the server keeps serving:

  pg_dump --format=custom --no-owner --file workbook.dump "$DATABASE_URL"

and restore it, with every replica and grader stopped, into an empty
database (or with --clean over an existing one):

  pg_restore --clean --if-exists --no-owner --dbname "$DATABASE_URL" workbook.dump
`

// backup writes a copy of the SQLite database to the file args names,
// safe while the server runs: VACUUM INTO reads one consistent snapshot
// (the transactions committed when it starts) while writers go on. The
// copy is written beside the file under another name, checked, and only
// then given its name, so a backup that failed leaves nothing that looks
// like one.
func backup(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: server backup FILE (a new file: a backup never overwrites one)")
		return exitConfig
	}
	if cfg.DatabaseURL != "" {
		fmt.Fprint(stderr, pgBackupHelp)
		return exitConfig
	}
	dst, err := filepath.Abs(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "server backup: %v\n", err)
		return exitConfig
	}
	if _, err := os.Stat(dst); err == nil {
		fmt.Fprintf(stderr, "server backup: %s already exists; name a new file (a backup never overwrites one)\n", dst)
		return exitConfig
	}
	if _, err := os.Stat(cfg.SQLitePath()); err != nil {
		fmt.Fprintf(stderr, "server backup: there is no database at %s (WORKBOOK_DATA_DIR) to back up\n", cfg.SQLitePath())
		return exitFail
	}
	began := time.Now()
	sum, err := vacuumInto(ctx, cfg.SQLitePath(), dst)
	if err != nil {
		fmt.Fprintf(stderr, "server backup: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "Backed up %s to %s in %.2f s: %s.\n", cfg.SQLitePath(), dst, time.Since(began).Seconds(), sum)
	return exitOK
}

// vacuumInto copies the database at src into dst through a partial file,
// checks the copy and renames it; it returns the copy's summary.
func vacuumInto(ctx context.Context, src, dst string) (summary, error) {
	partial := dst + ".partial"
	_ = os.Remove(partial) // what an interrupted backup left
	db, _, err := sqlopen.Open(ctx, sqlopen.Options{SQLitePath: src})
	if err != nil {
		return summary{}, fmt.Errorf("opening the database: %w", err)
	}
	_, err = db.ExecContext(ctx, "VACUUM INTO ?", partial)
	db.Close()
	if err != nil {
		_ = os.Remove(partial)
		return summary{}, fmt.Errorf("copying the database: %w", err)
	}
	sum, err := checkDatabase(ctx, partial)
	if err == nil {
		err = syncFile(partial)
	}
	if err == nil {
		err = os.Rename(partial, dst)
	}
	if err != nil {
		_ = os.Remove(partial)
		return summary{}, err
	}
	return sum, syncFile(filepath.Dir(dst))
}

// summary describes a workbook database: its schema version, size and
// the rows people care about.
type summary struct {
	version                          int64
	bytes                            int64
	users, submissions, quizAttempts int64
}

func (s summary) String() string {
	return fmt.Sprintf("%s, schema version %d, %s, %s, %s", megabytes(s.bytes), s.version,
		count(s.users, "account"), count(s.submissions, "submission"), count(s.quizAttempts, "quiz attempt"))
}

func count(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func megabytes(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.0f KB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}

// checkDatabase opens the SQLite file at path, which must be a whole
// workbook database this build can run (its integrity check passes, its
// schema is this build's or older), and summarises it.
func checkDatabase(ctx context.Context, path string) (summary, error) {
	info, err := os.Stat(path)
	if err != nil {
		return summary{}, err
	}
	db, _, err := sqlopen.Open(ctx, sqlopen.Options{SQLitePath: path})
	if err != nil {
		return summary{}, fmt.Errorf("%s cannot be opened as a SQLite database: %w", path, err)
	}
	defer db.Close()
	var ok string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&ok); err != nil {
		return summary{}, fmt.Errorf("%s is not a SQLite database (%v)", path, err)
	}
	if ok != "ok" {
		return summary{}, fmt.Errorf("%s fails SQLite's integrity check: %s", path, ok)
	}
	sum := summary{bytes: info.Size()}
	if sum.version, err = migrations.Version(ctx, db, migrations.SQLite); err != nil || sum.version == 0 {
		return summary{}, fmt.Errorf("%s is a SQLite database but not a workbook's (it has no schema version)", path)
	}
	latest, err := migrations.Latest(migrations.SQLite)
	if err != nil {
		return summary{}, err
	}
	if sum.version > latest {
		return summary{}, fmt.Errorf("%s has schema version %d, newer than this build's %d: restore it with the build that made it", path, sum.version, latest)
	}
	for _, c := range []struct {
		table string
		n     *int64
	}{{"users", &sum.users}, {"submissions", &sum.submissions}, {"quiz_attempts", &sum.quizAttempts}} {
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+c.table).Scan(c.n); err != nil {
			return summary{}, fmt.Errorf("%s: counting %s: %w", path, c.table, err)
		}
	}
	return sum, nil
}

// restore replaces the SQLite database with the backup args names. The
// server must be stopped: every process using the database holds the data
// directory's lock, and restore takes it exclusively or refuses. The
// backup is checked and copied in under another name first; the database
// it replaces is kept beside it, renamed, never deleted.
func restore(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: server restore FILE (with the server stopped)")
		return exitConfig
	}
	if cfg.DatabaseURL != "" {
		fmt.Fprint(stderr, pgBackupHelp)
		return exitConfig
	}
	sum, err := checkDatabase(ctx, args[0])
	if err != nil {
		fmt.Fprintf(stderr, "server restore: nothing was changed: %v\n", err)
		return exitFail
	}
	lock, err := lockDataDir(cfg.DataDir, true)
	if err != nil {
		fmt.Fprintf(stderr, "server restore: nothing was changed: %v\n", err)
		return exitFail
	}
	defer lock.Close()
	kept, err := swapIn(args[0], cfg.SQLitePath())
	if err != nil {
		fmt.Fprintf(stderr, "server restore: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "Restored %s into %s: %s.\n", args[0], cfg.SQLitePath(), sum)
	if kept != "" {
		fmt.Fprintf(stdout, "The database it replaced is kept as %s.\n", kept)
	}
	fmt.Fprintln(stdout, "Start the server: it migrates the restored database to this build's schema if it is older.")
	return exitOK
}

// swapIn copies the backup at src to dst's directory, then moves dst (and
// its write-ahead log and shared-memory files) aside under a dated name
// and renames the copy to dst. It returns the name dst was kept as, if
// there was one.
func swapIn(src, dst string) (kept string, err error) {
	incoming := dst + ".restoring"
	if err := copyFile(src, incoming); err != nil {
		_ = os.Remove(incoming)
		return "", fmt.Errorf("nothing was changed: copying the backup: %w", err)
	}
	if _, err := os.Stat(dst); err == nil {
		kept = dst + ".before-restore-" + time.Now().UTC().Format("20060102T150405Z")
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Rename(dst+suffix, kept+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return "", fmt.Errorf("moving the current database aside: %w (the backup is copied in as %s)", err, incoming)
			}
		}
	}
	if err := os.Rename(incoming, dst); err != nil {
		return kept, fmt.Errorf("renaming %s to %s: %w", incoming, dst, err)
	}
	return kept, syncFile(filepath.Dir(dst))
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// syncFile flushes a file or a directory (a rename is durable once its
// directory is synced).
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
