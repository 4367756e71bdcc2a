package lessons

import (
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Library holds the current catalog. In development it reloads the content
// from disk when a file changes, so authors see edits on refresh; otherwise
// it serves the content embedded in the binary, loaded once.
type Library struct {
	mu        sync.Mutex
	cat       *Catalog
	dir       string
	stamp     time.Time
	lastCheck time.Time
	// every bounds how often a request looks at the files.
	every time.Duration
	log   *slog.Logger
}

// OpenLibrary loads the embedded content, or with dev set and dir present,
// the content in dir, watched for changes.
func OpenLibrary(dev bool, dir string, log *slog.Logger) (*Library, error) {
	l := &Library{log: log, every: time.Second}
	if dev {
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			l.dir = dir
			l.stamp = newest(os.DirFS(dir))
			cat, err := Load(os.DirFS(dir))
			if err != nil {
				return nil, err
			}
			l.cat = cat
			log.Info("development mode: lesson content reloads on change", "dir", dir)
			return l, nil
		}
	}
	cat, err := Load(Embedded())
	if err != nil {
		return nil, err
	}
	l.cat = cat
	return l, nil
}

// Catalog returns the current catalog.
func (l *Library) Catalog() *Catalog {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dir == "" || time.Since(l.lastCheck) < l.every {
		return l.cat
	}
	l.lastCheck = time.Now()
	fsys := os.DirFS(l.dir)
	if s := newest(fsys); s.After(l.stamp) {
		l.stamp = s
		cat, err := Load(fsys)
		if err != nil {
			// Keep serving the last good content; say what is wrong.
			l.log.Error("content reload failed; still serving the previous version", "err", err)
			return l.cat
		}
		l.cat = cat
		l.log.Info("content reloaded")
	}
	return l.cat
}

func newest(fsys fs.FS) time.Time {
	var t time.Time
	_ = fs.WalkDir(fsys, ".", func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil && info.ModTime().After(t) {
			t = info.ModTime()
		}
		return nil
	})
	return t
}
