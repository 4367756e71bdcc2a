package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/apperr"
)

// unpack runs Unpack into a fresh folder and returns the summary, the
// error and the destination.
func unpack(t *testing.T, data []byte, lim Limits) (Summary, error, string) {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "src")
	sum, err := Unpack(bytes.NewReader(data), "upload", dst, lim)
	return sum, err, dst
}

// wantRefused expects a refusal naming "archive" whose sentence holds
// want, and nothing at all left beside the destination.
func wantRefused(t *testing.T, err error, dst, want string) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != apperr.Invalid || e.Fields["archive"] == "" {
		t.Fatalf("got %v, want a refusal naming archive", err)
	}
	if !strings.Contains(e.Fields["archive"], want) {
		t.Errorf("refusal %q does not say %q", e.Fields["archive"], want)
	}
	if strings.Contains(e.Message, "archive/") || strings.Contains(e.Message, ": zip:") {
		t.Errorf("refusal reads like a Go error: %q", e.Message)
	}
	left, _ := os.ReadDir(filepath.Dir(dst))
	if len(left) != 0 {
		t.Errorf("a refused archive left %d entries on disk (%s)", len(left), left[0].Name())
	}
}

func TestUnpackAcceptsServices(t *testing.T) {
	cases := []struct {
		name      string
		data      []byte
		lang      string
		found     []string
		stripped  string
		wantFiles []string
	}{
		{"python zip", makeZip(t, files("app.py", pyApp, "requirements.txt", "")...), LangPython, []string{LangPython}, "", []string{"app.py", "requirements.txt"}},
		{"go tar.gz", makeTarGz(t, tarFiles("go.mod", goMod, "main.go", goMain, "store/store.go", "package store\n")...), LangGo, []string{LangGo}, "", []string{"go.mod", "main.go", "store/store.go"}},
		{"dockerfile beside go", makeZip(t, files("Dockerfile", docker, "go.mod", goMod, "main.go", goMain)...), LangDockerfile, []string{LangDockerfile, LangGo}, "", []string{"Dockerfile", "main.go"}},
		{"zipped folder", makeZip(t, append([]zipEntry{{name: "limiter/"}}, files("limiter/app.py", pyApp, "limiter/lib/x.py", "")...)...), LangPython, []string{LangPython}, "limiter", []string{"app.py", "lib/x.py"}},
		{"macOS litter", makeZip(t, files("svc/app.py", pyApp, "__MACOSX/svc/._app.py", "fork", "svc/.DS_Store", "x")...), LangPython, []string{LangPython}, "svc", []string{"app.py"}},
		{"tar with ./ names", makeTarGz(t, append([]tarEntry{{h: tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755}}}, tarFiles("./app.py", pyApp)...)...), LangPython, []string{LangPython}, "", []string{"app.py"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sum, err, dst := unpack(t, c.data, DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Language != c.lang || strings.Join(sum.Found, ",") != strings.Join(c.found, ",") || sum.Stripped != c.stripped {
				t.Fatalf("summary %+v, want language %s, found %v, stripped %q", sum, c.lang, c.found, c.stripped)
			}
			for _, f := range c.wantFiles {
				if _, err := os.Stat(filepath.Join(dst, f)); err != nil {
					t.Errorf("%s not unpacked: %v", f, err)
				}
			}
			for _, litter := range []string{"__MACOSX", ".DS_Store"} {
				if _, err := os.Stat(filepath.Join(dst, litter)); err == nil {
					t.Errorf("%s was unpacked", litter)
				}
			}
			left, _ := os.ReadDir(filepath.Dir(dst))
			if len(left) != 1 {
				t.Errorf("%d entries beside the destination, want only it", len(left))
			}
		})
	}
}

func TestUnpackCountsAndModes(t *testing.T) {
	data := makeTarGz(t, tarEntry{h: tar.Header{Name: "run.sh", Typeflag: tar.TypeReg, Mode: 0o755}, body: "#!/bin/sh\n"},
		tarEntry{h: tar.Header{Name: "app.py", Typeflag: tar.TypeReg, Mode: 0o4777}, body: pyApp})
	sum, err, dst := unpack(t, data, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Files != 2 || sum.Bytes != int64(len(pyApp)+len("#!/bin/sh\n")) || sum.Format != FormatTarGz {
		t.Fatalf("summary %+v", sum)
	}
	for name, want := range map[string]fs.FileMode{"run.sh": 0o755, "app.py": 0o755} {
		fi, err := os.Stat(filepath.Join(dst, name))
		if err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v (no setuid, no world write)", name, fi.Mode(), want)
		}
	}
}

func TestUnpackRefusesHostileZips(t *testing.T) {
	bomb := deflated(t, 60<<20)
	lying := &zip.FileHeader{Name: "app.py", Method: zip.Deflate, CompressedSize64: uint64(len(bomb)), UncompressedSize64: 10, CRC32: 0}
	many := make([]string, 0, 2*2001)
	for i := range 2001 {
		many = append(many, "f"+strconv.Itoa(i), "")
	}
	honestBombs := make([]zipEntry, 0, 6)
	for i := range 6 {
		d := deflated(t, 10<<20)
		honestBombs = append(honestBombs, zipEntry{raw: &zip.FileHeader{Name: "z" + strconv.Itoa(i), Method: zip.Deflate,
			CompressedSize64: uint64(len(d)), UncompressedSize64: 10 << 20, CRC32: crc32.ChecksumIEEE(make([]byte, 10<<20))}, data: d})
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"absolute path", makeZip(t, files("app.py", pyApp, "/etc/cron.d/x", "boom")...), "absolute path"},
		{"drive letter", makeZip(t, files("app.py", pyApp, "C:/x", "boom")...), "absolute path"},
		{"dot dot", makeZip(t, files("app.py", pyApp, "a/../../evil", "boom")...), "climbs out"},
		{"symlink", makeZip(t, append(files("app.py", pyApp), zipEntry{name: "link", body: "/etc/passwd", mode: fs.ModeSymlink | 0o777})...), "link"},
		{"named pipe", makeZip(t, append(files("app.py", pyApp), zipEntry{name: "fifo", mode: fs.ModeNamedPipe | 0o644})...), "device, pipe or socket"},
		{"device", makeZip(t, append(files("app.py", pyApp), zipEntry{name: "sda", mode: fs.ModeDevice | 0o644})...), "device, pipe or socket"},
		{"NUL in a name", makeZip(t, files("app.py", pyApp, "a\x00b", "x")...), "NUL"},
		{"backslash", makeZip(t, files("app.py", pyApp, `..\..\evil`, "x")...), "backslash"},
		{"control character", makeZip(t, files("app.py", pyApp, "a\nb", "x")...), "control character"},
		{"duplicate", makeZip(t, files("app.py", pyApp, "app.py", "import evil")...), "twice"},
		{"duplicate after cleaning", makeZip(t, files("app.py", pyApp, "./app.py", "import evil")...), "twice"},
		{"file and folder", makeZip(t, files("app.py", pyApp, "lib", "x", "lib/x.py", "y")...), "both as a file and as a folder"},
		{"folder then file", makeZip(t, files("lib/x.py", "y", "lib", "x", "app.py", pyApp)...), "both as a file and as a folder"},
		{"no entry point", makeZip(t, files("README.md", "hi", "src/app.py", pyApp, "other/x", "")...), "nothing to run"},
		{"go.mod without main", makeZip(t, files("go.mod", goMod, "lib.go", "package lib\n", "cmd/main.go", goMain)...), "package main"},
		{"Dockerfile without FROM", makeZip(t, files("Dockerfile", "RUN rm -rf /\n", "app.py", pyApp)...), "no FROM"},
		{"over 2,000 entries", makeZip(t, files(many...)...), "more than 2000"},
		{"zip bomb with a lying header", makeZip(t, zipEntry{raw: lying, data: bomb}), "damaged"},
		{"zip bomb with honest headers", makeZip(t, honestBombs...), "larger than 50 MB"},
		{"encrypted", makeZip(t, zipEntry{raw: &zip.FileHeader{Name: "app.py", Method: zip.Store, Flags: 0x1, CompressedSize64: 3, UncompressedSize64: 3}, data: []byte("abc")}), "encrypted"},
		{"unknown compression", makeZip(t, zipEntry{raw: &zip.FileHeader{Name: "app.py", Method: 99, CompressedSize64: 3, UncompressedSize64: 3}, data: []byte("abc")}), "compressed in a way"},
		{"cut short", makeZip(t, files("app.py", pyApp)...)[:40], "damaged"},
		{"empty zip", makeZip(t), "empty"},
		{"only litter", makeZip(t, files("__MACOSX/._x", "y")...), "nothing to run"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err, dst := unpack(t, c.data, DefaultLimits)
			wantRefused(t, err, dst, c.want)
		})
	}
}

func TestUnpackRefusesHostileTars(t *testing.T) {
	reg := func(name, body string) tarEntry {
		return tarEntry{h: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644}, body: body}
	}
	bomb := make([]byte, 60<<20)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"absolute path", makeTarGz(t, reg("app.py", pyApp), reg("/etc/passwd", "x")), "absolute path"},
		{"dot dot", makeTarGz(t, reg("app.py", pyApp), reg("../../x", "x")), "climbs out"},
		{"symlink", makeTarGz(t, reg("app.py", pyApp), tarEntry{h: tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}), "link"},
		{"symlink then write through it", makeTarGz(t, tarEntry{h: tar.Header{Name: "d", Typeflag: tar.TypeSymlink, Linkname: "/tmp"}}, reg("d/x", "x")), "link"},
		{"hard link", makeTarGz(t, reg("app.py", pyApp), tarEntry{h: tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "app.py"}}), "link"},
		{"character device", makeTarGz(t, reg("app.py", pyApp), tarEntry{h: tar.Header{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}}), "device or pipe"},
		{"block device", makeTarGz(t, reg("app.py", pyApp), tarEntry{h: tar.Header{Name: "sda", Typeflag: tar.TypeBlock, Devmajor: 8}}), "device or pipe"},
		{"fifo", makeTarGz(t, reg("app.py", pyApp), tarEntry{h: tar.Header{Name: "p", Typeflag: tar.TypeFifo}}), "device or pipe"},
		{"duplicate", makeTarGz(t, reg("app.py", pyApp), reg("app.py", "import os; os.system('x')")), "twice"},
		{"backslash", makeTarGz(t, reg("app.py", pyApp), reg(`a\b`, "x")), "backslash"},
		{"gzip bomb", makeTarGz(t, reg("app.py", pyApp), reg("data.bin", string(bomb))), "larger than 50 MB"},
		{"plain tar", plainTar(t), ".tar archive"},
		{"not an archive", []byte("print('I am a script, not an archive')"), "neither a .zip nor a .tar.gz"},
		{"empty file", nil, "empty"},
		{"gzip of no tar", gzipOf(t, "hello, world"), "damaged"},
		{"cut short", makeTarGz(t, reg("app.py", pyApp), reg("b", strings.Repeat("x", 5000)))[:60], "damaged"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err, dst := unpack(t, c.data, DefaultLimits)
			wantRefused(t, err, dst, c.want)
		})
	}
}

func TestUnpackLimits(t *testing.T) {
	lim := Limits{MaxArchive: 4 << 10, MaxEntries: 3, MaxUnpacked: 100}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"archive too large", makeZip(t, files("app.py", pyApp, "big", noise(8<<10))...), "larger than 4 KB"},
		{"too many entries (zip)", makeZip(t, files("app.py", pyApp, "a", "", "b", "", "c", "")...), "more than 3"},
		{"too many entries (tar)", makeTarGz(t, tarFiles("app.py", pyApp, "a", "", "b", "", "c", "")...), "more than 3"},
		{"unpacked too large (zip)", makeZip(t, files("app.py", pyApp, "x", strings.Repeat("a", 90))...), "larger than 100 bytes"},
		{"unpacked too large (tar)", makeTarGz(t, tarFiles("app.py", pyApp, "x", strings.Repeat("a", 90))...), "larger than 100 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err, dst := unpack(t, c.data, lim)
			wantRefused(t, err, dst, c.want)
		})
	}
	// At the limits exactly, it is accepted.
	if _, err, _ := unpack(t, makeZip(t, files("app.py", strings.Repeat("#", 100))...), lim); err != nil {
		t.Fatalf("100 bytes with a limit of 100: %v", err)
	}
}

func TestChooseLanguage(t *testing.T) {
	sum, err, _ := unpack(t, makeZip(t, files("Dockerfile", docker, "go.mod", goMod, "main.go", goMain)...), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := sum.Choose(""); err != nil || got.Language != LangDockerfile {
		t.Fatalf("no choice: %v %v", got.Language, err)
	}
	if got, err := sum.Choose(LangGo); err != nil || got.Language != LangGo {
		t.Fatalf("chose go: %v %v", got.Language, err)
	}
	for choice, want := range map[string]string{LangPython: "You chose Python, but the archive holds a Dockerfile and a Go module", "rust": "Choose Go, Python"} {
		_, err := sum.Choose(choice)
		e, ok := apperr.As(err)
		if !ok || !strings.Contains(e.Fields["language"], want) {
			t.Errorf("chose %s: %v, want a message on language saying %q", choice, err, want)
		}
	}
}

func TestUnpackNeedsAFreshDestination(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "src")
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Unpack(bytes.NewReader(makeZip(t, files("app.py", pyApp)...)), "a.zip", dst, DefaultLimits)
	if err == nil || apperr.CodeOf(err) != apperr.Internal {
		t.Fatalf("unpacking onto an existing folder: %v, want the server's own error", err)
	}
}

func plainTar(t *testing.T) []byte {
	gz := makeTarGz(t, tarFiles("app.py", pyApp)...)
	return gunzip(t, gz)
}

// noise is n bytes that do not compress.
func noise(n int) string {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return string(b)
}
