package archive

import (
	"archive/tar"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/apperr"
)

// FuzzUnpack feeds Unpack any bytes, seeded with zips and tar.gz archives
// good and hostile. Whatever comes in: no panic; a refusal names
// "archive" (or "language"), is a sentence, and leaves nothing on disk;
// an accepted archive left only regular files and folders inside the
// destination, within the limits, counted right, with an entry point.
func FuzzUnpack(f *testing.F) {
	f.Add(makeZip(f, files("app.py", pyApp)...))
	f.Add(makeZip(f, files("svc/go.mod", goMod, "svc/main.go", goMain)...))
	f.Add(makeZip(f, files("Dockerfile", docker, "app.py", pyApp, "../x", "y")...))
	f.Add(makeZip(f, append(files("app.py", pyApp), zipEntry{name: "l", body: "/etc", mode: fs.ModeSymlink | 0o777})...))
	f.Add(makeTarGz(f, tarFiles("app.py", pyApp, "lib/a.py", "x")...))
	f.Add(makeTarGz(f, tarEntry{h: tar.Header{Name: "d", Typeflag: tar.TypeSymlink, Linkname: "/"}}, tarEntry{h: tar.Header{Name: "d/app.py", Typeflag: tar.TypeReg}}))
	f.Add(makeTarGz(f, tarFiles("go.mod", goMod, "main.go", goMain, "go.mod", goMod)...))
	f.Add([]byte("PK\x03\x04garbage"))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0})
	lim := Limits{MaxArchive: 64 << 10, MaxEntries: 50, MaxUnpacked: 256 << 10}
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dst := filepath.Join(parent, "src")
		sum, err := Unpack(bytes.NewReader(data), "upload.zip", dst, lim)
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.Invalid || (e.Fields["archive"] == "" && e.Fields["language"] == "") {
				t.Fatalf("not a refusal naming the archive: %v", err)
			}
			if !strings.HasSuffix(e.Message, ".") || strings.Contains(e.Message, "archive/") {
				t.Fatalf("refusal is not a sentence: %q", e.Message)
			}
			if left, _ := os.ReadDir(parent); len(left) != 0 {
				t.Fatalf("refused, and left %s on disk", left[0].Name())
			}
			return
		}
		checkUnpacked(t, dst, sum, lim)
	})
}

// checkUnpacked walks what an accepted archive left.
func checkUnpacked(t *testing.T, dst string, sum Summary, lim Limits) {
	t.Helper()
	var n int
	var total int64
	err := filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			t.Errorf("%s is neither a file nor a folder (%v)", p, d.Type())
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n++
			total += fi.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != sum.Files || total != sum.Bytes || total > lim.MaxUnpacked || len(sum.Found) == 0 || sum.Language != sum.Found[0] {
		t.Fatalf("summary %+v; on disk %d files, %d bytes", sum, n, total)
	}
}
