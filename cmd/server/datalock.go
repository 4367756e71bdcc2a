package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDataDir takes the data directory's lock: shared by every process
// that serves or grades from the SQLite database there (several may), and
// exclusive for a restore, which must have the database to itself. The
// lock is the kernel's (flock), so a process that dies lets go of it.
func lockDataDir(dir string, exclusive bool) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	path := filepath.Join(dir, "workbook.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data dir lock: %w", err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX | syscall.LOCK_NB
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("a server or grader is using the database in %s: stop it first", dir)
		}
		return nil, fmt.Errorf("data dir lock %s: %w", path, err)
	}
	return f, nil
}
